/**
 * Line endings. Vendor kernel trees committed from Windows reach users with CRLF endings (every
 * file, or some lines of some files). Everything downstream of the read — the parser, line
 * numbers, the planner's edits, the simulator — works on the text with each CRLF read as LF, and
 * the converted file is written back with every line keeping its own ending, byte for byte:
 *
 * - a line the conversion does not touch keeps its ending (the raw bytes between edits are copied);
 * - a line an edit writes takes the ending of the line it replaces: the k-th newline an edit
 *   inserts takes the ending of the k-th newline it removes, the last one's when it inserts more;
 * - an edit that removes no newline (a pure insertion, or a rewrite within a line) gives its new
 *   lines the ending of the line it lands in (the first newline at or after its end: a statement
 *   added after `x;` ends like `x;`'s line, one added before line L ends like L), else of the
 *   file's last line ending, else LF;
 * - a lone CR (not before an LF) is not a line ending: it is text, kept as it is;
 * - a last line without a newline stays without.
 */
import type { Edit } from '../../transforms/index.ts';
import { applyEdits } from '../plan/plan.ts';

export interface Normalised {
  /** The file as read. */
  raw: string;
  /** `raw` with every CRLF read as LF: what is parsed, analysed and edited (=== raw for an LF file). */
  text: string;
  /** Offsets in `text` of the newlines that were CRLF, ascending (none: an LF file). */
  crlf: readonly number[];
}

export function normalise(raw: string): Normalised {
  // LF files, all of a mainline tree, cost one search.
  if (!raw.includes('\r\n')) return { raw, text: raw, crlf: [] };
  const parts: string[] = [];
  const crlf: number[] = [];
  let length = 0;
  let from = 0;
  for (let i = raw.indexOf('\r\n'); i >= 0; i = raw.indexOf('\r\n', i + 2)) {
    parts.push(raw.slice(from, i), '\n');
    length += i - from;
    crlf.push(length++);
    from = i + 2;
  }
  parts.push(raw.slice(from));
  return { raw, text: parts.join(''), crlf };
}

/** How many entries of the ascending `list` are below `value`. */
function countBelow(list: readonly number[], value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The bytes to write: `edits` (offsets into `n.text`) made on the raw text, their new lines
 * ending as the rules above say. `output` is the converted normalised text (applyEdits(n.text,
 * edits)): an LF file gets it as it is, and a CRLF file's result must read back as it, or this
 * throws rather than write a file that differs from what was planned and verified.
 */
export function restore(n: Normalised, edits: readonly Edit[], output: string): string {
  if (!n.crlf.length) return output;
  const isCrlf = (newline: number) => n.crlf[countBelow(n.crlf, newline)] === newline;
  const toRaw = (offset: number) => offset + countBelow(n.crlf, offset);
  const lastNewline = n.text.lastIndexOf('\n');
  const endingFor = (e: Edit): ((k: number) => string) => {
    const removed: boolean[] = [];
    for (let i = n.text.indexOf('\n', e.start); i >= 0 && i < e.end; i = n.text.indexOf('\n', i + 1)) removed.push(isCrlf(i));
    if (removed.length) return (k) => (removed[Math.min(k, removed.length - 1)] ? '\r\n' : '\n');
    const next = n.text.indexOf('\n', e.end);
    const landing = next >= 0 ? next : lastNewline;
    const ending = landing >= 0 && isCrlf(landing) ? '\r\n' : '\n';
    return () => ending;
  };
  const rawEdits = edits.map((e) => {
    let text = e.text;
    if (text.includes('\n')) {
      const ending = endingFor(e);
      let k = 0;
      text = text.replace(/\n/g, () => ending(k++));
    }
    return { start: toRaw(e.start), end: toRaw(e.end), text };
  });
  const restored = applyEdits(n.raw, rawEdits);
  if (normalise(restored).text !== output) throw new Error('the line endings could not be restored exactly');
  return restored;
}
