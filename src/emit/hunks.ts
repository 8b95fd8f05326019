/**
 * Hunks placed the way git places them. jsdiff finds which lines match; git then slides each
 * block of changed lines along runs of equal lines (xdiff's xdl_change_compact() with the indent
 * heuristic, ported here), so a deleted loop and its counter's declaration form one block and
 * the blank line between them stays context. Without it a patch is just as valid but reads
 * differently from what `git format-patch` of the same commit shows.
 */
import { diffArrays, type StructuredPatchHunk } from 'diff';

/**
 * Lines with their newline: a last line without one differs from the same line with one. A CRLF
 * line's CR is part of it, as in xdiff: the diff prints it before the LF, as git diff does.
 */
const records = (text: string) => text.match(/[^\n]*\n|[^\n]+$/g) ?? [];

/** A file's records and which of them changed (xdiff's rchg[]). */
class Side {
  readonly changed: boolean[];
  constructor(readonly recs: string[]) {
    this.changed = recs.map(() => false);
  }
  get n() {
    return this.recs.length;
  }
  /** rchg[] with xdiff's sentinels: nothing changed outside the file. */
  isChanged(i: number) {
    return i >= 0 && i < this.n && this.changed[i];
  }
}

interface Group {
  start: number;
  end: number;
}

function groupInit(s: Side): Group {
  let end = 0;
  while (s.isChanged(end)) end++;
  return { start: 0, end };
}

/** Move to the next group (possibly empty); false at the end of the file. */
function groupNext(s: Side, g: Group): boolean {
  if (g.end === s.n) return false;
  g.start = g.end + 1;
  for (g.end = g.start; s.isChanged(g.end); g.end++);
  return true;
}

function groupPrevious(s: Side, g: Group): boolean {
  if (g.start === 0) return false;
  g.end = g.start - 1;
  for (g.start = g.end; s.isChanged(g.start - 1); g.start--);
  return true;
}

function slideDown(s: Side, g: Group): boolean {
  if (g.end < s.n && s.recs[g.start] === s.recs[g.end]) {
    s.changed[g.start++] = false;
    s.changed[g.end++] = true;
    while (s.isChanged(g.end)) g.end++;
    return true;
  }
  return false;
}

function slideUp(s: Side, g: Group): boolean {
  if (g.start > 0 && s.recs[g.start - 1] === s.recs[g.end - 1]) {
    s.changed[--g.start] = true;
    s.changed[--g.end] = false;
    while (s.isChanged(g.start - 1)) g.start--;
    return true;
  }
  return false;
}

const MAX_INDENT = 200;
const MAX_BLANKS = 20;
const INDENT_HEURISTIC_MAX_SLIDING = 100;

/** Columns of leading whitespace (tabs to 8), -1 for a blank line. */
function indentOf(rec: string): number {
  let ret = 0;
  for (const c of rec) {
    if (!/\s/.test(c)) return ret;
    if (c === ' ') ret += 1;
    else if (c === '\t') ret += 8 - (ret % 8);
    if (ret >= MAX_INDENT) return MAX_INDENT;
  }
  return -1;
}

interface Score {
  effectiveIndent: number;
  penalty: number;
}

/**
 * From `from` going `step`: the indent of the first non-blank line and the blank lines before
 * it (-1 past the file's edge; 0 once MAX_BLANKS blank lines are seen, as xdiff stops there).
 */
function nearestIndent(s: Side, from: number, step: 1 | -1): { indent: number; blanks: number } {
  let blanks = 0;
  for (let i = from; i >= 0 && i < s.n; i += step) {
    const indent = indentOf(s.recs[i]);
    if (indent !== -1) return { indent, blanks };
    if (++blanks === MAX_BLANKS) return { indent: 0, blanks };
  }
  return { indent: -1, blanks };
}

/** xdiff's measure_split() + score_add_split(): how natural a block boundary before `split` looks. */
function scoreSplit(s: Side, split: number, score: Score) {
  const endOfFile = split >= s.n;
  const indent = endOfFile ? -1 : indentOf(s.recs[split]);
  const { indent: preIndent, blanks: preBlank } = nearestIndent(s, split - 1, -1);
  const { indent: postIndent, blanks: postBlankRun } = nearestIndent(s, split + 1, 1);
  if (preIndent === -1 && preBlank === 0) score.penalty += 1; // start of file
  if (endOfFile) score.penalty += 21;
  const postBlank = indent === -1 ? 1 + postBlankRun : 0;
  const totalBlank = preBlank + postBlank;
  score.penalty += -30 * totalBlank + 6 * postBlank;
  const effective = indent !== -1 ? indent : postIndent;
  const anyBlanks = totalBlank !== 0;
  score.effectiveIndent += effective;
  if (effective === -1 || preIndent === -1 || effective === preIndent) return;
  if (effective > preIndent) score.penalty += anyBlanks ? 10 : -4;
  else if (postIndent !== -1 && postIndent > effective) score.penalty += anyBlanks ? 17 : 24;
  else score.penalty += anyBlanks ? 17 : 23;
}

const scoreCmp = (a: Score, b: Score) => 60 * (Math.sign(a.effectiveIndent - b.effectiveIndent)) + (a.penalty - b.penalty);

/** xdl_change_compact(): slide and merge the change blocks of `s`, keeping `o` in step. */
function compact(s: Side, o: Side) {
  const g = groupInit(s);
  const go = groupInit(o);
  for (;;) {
    if (g.end !== g.start) {
      let groupsize: number;
      let earliestEnd: number;
      let endMatchingOther: number;
      do {
        groupsize = g.end - g.start;
        endMatchingOther = -1;
        while (slideUp(s, g)) groupPrevious(o, go);
        earliestEnd = g.end;
        if (go.end > go.start) endMatchingOther = g.end;
        while (slideDown(s, g)) {
          groupNext(o, go);
          if (go.end > go.start) endMatchingOther = g.end;
        }
      } while (groupsize !== g.end - g.start);
      if (g.end === earliestEnd) {
        // Could not move.
      } else if (endMatchingOther !== -1) {
        // Line up with the other file's changes.
        while (go.end === go.start) {
          slideUp(s, g);
          groupPrevious(o, go);
        }
      } else {
        let shift = Math.max(earliestEnd, g.end - groupsize - 1, g.end - INDENT_HEURISTIC_MAX_SLIDING);
        let best = -1;
        let bestScore: Score = { effectiveIndent: 0, penalty: 0 };
        for (; shift <= g.end; shift++) {
          const score = { effectiveIndent: 0, penalty: 0 };
          scoreSplit(s, shift, score);
          scoreSplit(s, shift - groupsize, score);
          if (best === -1 || scoreCmp(score, bestScore) <= 0) {
            bestScore = score;
            best = shift;
          }
        }
        while (g.end > best) {
          slideUp(s, g);
          groupPrevious(o, go);
        }
      }
    }
    if (!groupNext(s, g)) break;
    groupNext(o, go);
  }
}

/** Unified-diff hunks of `before` → `after` with `context` lines, placed like git's. */
export function gitHunks(before: string, after: string, context = 3): StructuredPatchHunk[] {
  const a = new Side(records(before));
  const b = new Side(records(after));
  let i = 0;
  let j = 0;
  for (const part of diffArrays(a.recs, b.recs)) {
    const n = part.count ?? part.value.length;
    if (part.removed) for (let k = 0; k < n; k++) a.changed[i++] = true;
    else if (part.added) for (let k = 0; k < n; k++) b.changed[j++] = true;
    else {
      i += n;
      j += n;
    }
  }
  compact(a, b);
  compact(b, a);
  return hunksOf(a, b, context);
}

type Op = { kind: ' ' | '-' | '+'; text: string; i: number; j: number };

function hunksOf(a: Side, b: Side, context: number): StructuredPatchHunk[] {
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.n || j < b.n) {
    if (a.isChanged(i) || b.isChanged(j)) {
      while (a.isChanged(i)) ops.push({ kind: '-', text: a.recs[i], i: i++, j });
      while (b.isChanged(j)) ops.push({ kind: '+', text: b.recs[j], i, j: j++ });
    } else ops.push({ kind: ' ', text: a.recs[i], i: i++, j: j++ });
  }
  const hunks: StructuredPatchHunk[] = [];
  let k = 0;
  while (k < ops.length) {
    while (k < ops.length && ops[k].kind === ' ') k++;
    if (k === ops.length) break;
    let from = Math.max(0, k - context);
    while (from < k && ops[from].kind !== ' ') from++;
    // Extend while the next change is at most 2 × context unchanged lines away.
    let end = k;
    for (;;) {
      while (end < ops.length && ops[end].kind !== ' ') end++;
      let gap = end;
      while (gap < ops.length && ops[gap].kind === ' ') gap++;
      if (gap < ops.length && gap - end <= 2 * context) end = gap;
      else {
        end = Math.min(end + context, gap);
        break;
      }
    }
    const slice = ops.slice(from, end);
    const lines: string[] = [];
    for (const op of slice) {
      lines.push(op.kind + op.text.replace(/\n$/, ''));
      if (!op.text.endsWith('\n')) lines.push('\\ No newline at end of file');
    }
    hunks.push({
      oldStart: slice[0].i + 1,
      oldLines: slice.filter((o) => o.kind !== '+').length,
      newStart: slice[0].j + 1,
      newLines: slice.filter((o) => o.kind !== '-').length,
      lines,
    });
    k = end;
  }
  return hunks;
}
