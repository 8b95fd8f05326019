/**
 * Line wrapping: git's own (subjects folded at 78, cover-letter shortlog at 72) and the kernel's
 * commit-message convention (75 columns).
 */

const isSpace = (c: string | undefined) => c !== undefined && /^[ \t\n\v\f\r]$/.test(c);
const isAlnum = (c: string | undefined) => c !== undefined && /^[A-Za-z0-9]$/.test(c);

/**
 * A port of git's strbuf_add_wrapped_text() (utf8.c), so folded subjects and shortlog lines are
 * byte-identical to format-patch's. A negative `indent1` means "already that far into the line".
 * Widths count code points (git counts display columns: the same for the text we wrap).
 */
export function gitWrap(text: string, indent1: number, indent2: number, width: number): string {
  let out = '';
  let pos = 0;
  let bol = 0;
  let indent = indent1;
  let w = indent1;
  let space: number | undefined;
  if (indent < 0) {
    w = -indent;
    space = 0;
  }
  const newLine = () => {
    out += '\n';
    const s = space ?? pos;
    pos = bol = s + (isSpace(text[s]) ? 1 : 0);
    space = undefined;
    w = indent = indent2;
  };
  for (;;) {
    const c = text[pos];
    if (c !== undefined && !isSpace(c)) {
      w += 1;
      pos += [...text.slice(pos, pos + 2)][0].length;
      continue;
    }
    if (!(w <= width || space === undefined)) {
      newLine();
      continue;
    }
    let start = bol;
    if (c === undefined && pos === start) return out;
    if (space !== undefined) start = space;
    else out += ' '.repeat(Math.max(indent, 0));
    out += text.slice(start, pos);
    if (c === undefined) return out;
    space = pos;
    if (c === '\t') w |= 0x07;
    else if (c === '\n') {
      space++;
      if (text[space] === '\n') {
        out += '\n';
        newLine();
        continue;
      }
      if (!isAlnum(text[space])) {
        newLine();
        continue;
      }
      out += ' ';
    }
    w++;
    pos++;
  }
}

/**
 * Fill a paragraph to `width` columns (the kernel's commit messages: 75). Words longer than the
 * width (a path, a URL) get a line of their own rather than being broken.
 */
export function fill(text: string, width = 75, indent = '', hanging = indent): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (!line) line = (lines.length ? hanging : indent) + word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = hanging + word;
    }
  }
  if (line) lines.push(line);
  return lines.join('\n');
}
