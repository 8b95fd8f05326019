/**
 * MAINTAINERS N:/K: values are Perl regular expressions that get_maintainer.pl applies with /x.
 * JavaScript has no /x and (in Node 20) no inline `(?i)`/`(?i:…)`, so translate those; the rest
 * of the syntax the file uses (\b, \s, (?:…), classes, alternation) means the same in both.
 */

const swapCase = (c: string) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());
const isLetter = (c: string) => /^[A-Za-z]$/.test(c);

/** Translate a Perl pattern used with /x into JavaScript regex source (case folding expanded). */
export function perlToJs(pattern: string): string {
  let out = '';
  // One entry per open group: whether case folding is on inside it.
  const fold: boolean[] = [false];
  const folding = () => fold[fold.length - 1];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      // Escapes (an escaped space or # included: literal under /x) mean the same in JS.
      out += `\\${pattern[i + 1] ?? ''}`;
      i++;
      continue;
    }
    if (/\s/.test(c)) continue;
    if (c === '#') {
      while (i < pattern.length && pattern[i] !== '\n') i++;
      continue;
    }
    if (c === '[') {
      // A character class: copied as is (whitespace is literal here), folded by adding the
      // other case of every unescaped letter.
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      const body = pattern.slice(i + 1, j);
      let extra = '';
      if (folding()) {
        const inner = body.startsWith('^') ? body.slice(1) : body;
        for (let k = 0; k < inner.length; k++) {
          if (inner[k] === '\\') k++;
          else if (isLetter(inner[k])) extra += swapCase(inner[k]);
          else if (inner[k] === '-' && extra && k + 1 < inner.length && isLetter(inner[k + 1])) extra += '-';
        }
      }
      out += `[${body}${extra}]`;
      i = j;
      continue;
    }
    if (c === '(') {
      const inline = /^\(\?([a-z]*)(?:-([a-z]*))?(\)|:)/.exec(pattern.slice(i));
      if (inline && inline[1] !== undefined && (inline[1].includes('i') || (inline[2] ?? '').includes('i') || inline[3] === ')')) {
        const on = inline[1].includes('i') ? true : (inline[2] ?? '').includes('i') ? false : folding();
        if (inline[3] === ')') fold[fold.length - 1] = on; // (?i): the rest of this group
        else {
          fold.push(on);
          out += '(?:';
        }
        i += inline[0].length - 1;
        continue;
      }
      fold.push(folding());
      out += c;
      continue;
    }
    if (c === ')') {
      if (fold.length > 1) fold.pop();
      out += c;
      continue;
    }
    out += folding() && isLetter(c) ? `[${c}${swapCase(c)}]` : c;
  }
  return out;
}

/** A Perl /x pattern as a JavaScript RegExp, or undefined if it does not compile. */
export function perlRegExp(pattern: string, prefix = ''): RegExp | undefined {
  return cached(prefix + perlToJs(pattern));
}

const compiledSources = new Map<string, RegExp | undefined>();

/**
 * A JS regular expression compiled once per source (undefined if it does not compile):
 * MAINTAINERS has ~20,000 F: lines and hundreds of K:/N: ones, tested against every file and
 * every patch line. No `g` flag, so a shared RegExp keeps no state.
 */
export function cached(source: string): RegExp | undefined {
  if (compiledSources.has(source)) return compiledSources.get(source);
  let re: RegExp | undefined;
  try {
    re = new RegExp(source);
  } catch {
    re = undefined;
  }
  compiledSources.set(source, re);
  return re;
}
