/**
 * Coverage: which of the statements a conversion edits the scenarios of a group executed, on
 * each side, and which GUP outcomes the code after the acquire was run with. An `equivalent`
 * is only as good as the runs behind it: a group whose release ran in no scenario was never
 * compared at all (a bulk unpin over NULL slots, reached only after a short pin through a state
 * switch, passed as equivalent that way).
 */
import { diffLines } from 'diff';
import type { Edit } from '../../transforms/index.ts';
import { lineOfIndex, lineStarts, newlines } from '../parse/lines.ts';
import type { GupResultLog } from './interp.ts';
import type { Func, Stmt } from './lower.ts';
import type { Outcome } from './outcome.ts';
import type { Coverage, GupOutcome, OutcomeCoverage, StatementCoverage } from './verdict.ts';

/** Lines [from, to] (1-based, inclusive) a change takes in one version; undefined for none. */
type Lines = [number, number] | undefined;

/** One change: the lines it removes from the original and those it adds in the conversion. */
export interface EditedHunk {
  before: Lines;
  after: Lines;
  /** The original's line the change is at (for an insertion, the line it goes before). */
  anchor: number;
}

/**
 * The changes that make `after` from `before`, as a line diff finds them. With the edits known,
 * only the lines they touch are compared: an edit rewrites whole statements (`if (dirty) …
 * else …` for a release), and its unchanged lines are no change.
 */
export function editedHunks(before: string, after: string, edits?: readonly Edit[]): EditedHunk[] {
  if (!edits) return diffHunks(before, after, 1, 1);
  const starts = lineStarts(before);
  const lineAt = (index: number) => lineOfIndex(starts, index);
  // Edits whose lines touch, taken together: the lines they span, in both versions.
  const clusters: Array<{ from: number; to: number; edits: Edit[] }> = [];
  for (const e of [...edits].sort((x, y) => x.start - y.start)) {
    const from = starts[lineAt(e.start) - 1];
    const nl = before.indexOf('\n', Math.max(e.start, e.end - 1));
    const to = nl < 0 ? before.length : nl + 1;
    const last = clusters.at(-1);
    if (last && from < last.to) {
      last.to = Math.max(last.to, to);
      last.edits.push(e);
    } else clusters.push({ from, to, edits: [e] });
  }
  const out: EditedHunk[] = [];
  let shift = 0;
  for (const c of clusters) {
    let region = '';
    let at = c.from;
    for (const e of c.edits) {
      region += before.slice(at, e.start) + e.text;
      at = e.end;
    }
    region += before.slice(at, c.to);
    const original = before.slice(c.from, c.to);
    const line = lineAt(c.from);
    out.push(...diffHunks(original, region, line, line + shift));
    shift += newlines(region) - newlines(original);
  }
  return out;
}

/** The hunks of a line diff of `before` and `after`, which start at the lines given. */
function diffHunks(before: string, after: string, firstBefore: number, firstAfter: number): EditedHunk[] {
  const out: EditedHunk[] = [];
  let b = firstBefore;
  let a = firstAfter;
  let open: EditedHunk | undefined;
  for (const part of diffLines(before, after)) {
    const n = part.count ?? 0;
    if (!part.added && !part.removed) {
      open = undefined;
      b += n;
      a += n;
      continue;
    }
    open ??= out[out.push({ before: undefined, after: undefined, anchor: b }) - 1];
    if (part.removed) {
      open.before = [b, b + n - 1];
      b += n;
    } else {
      open.after = [a, a + n - 1];
      a += n;
    }
  }
  return out;
}


/** A statement a change touches, in one version. */
export interface EditedStatement {
  side: 'before' | 'after';
  stmt: Stmt;
  fn: string;
  line: number;
  text: string;
}

/**
 * The statements on the lines `lines` of one version: every statement that starts on one of
 * them (an `if` and the release it guards on one line are two), and for a line inside a
 * statement that starts higher (an argument of a call spread over lines) the innermost one
 * around it. Blocks are structure, not code: a line holding only a brace or a comment is no
 * statement's.
 */
export function statementsOn(funcs: ReadonlyMap<string, Func>, lines: number[], text: string, side: 'before' | 'after'): EditedStatement[] {
  const out = new Map<Stmt, EditedStatement>();
  const textLines = text.split('\n');
  for (const line of lines)
    for (const [name, fn] of funcs) {
      if (line < fn.body.line || line > fn.body.end) continue;
      const found = new Set<Stmt>();
      let innermost: Stmt | undefined;
      visit(fn.body, (s) => {
        if (s.line > line || s.end < line) return false;
        if (s.line === line && s.t !== 'block' && s.t !== 'nop') found.add(s);
        innermost = s;
        return true;
      });
      if (!found.size && innermost && innermost.t !== 'block' && innermost.t !== 'nop') found.add(innermost);
      for (const s of found)
        if (!out.has(s)) out.set(s, { side, stmt: s, fn: name, line: s.line, text: (textLines[s.line - 1] ?? '').trim() });
    }
  return [...out.values()].sort((x, y) => x.line - y.line);
}

/** Statements inside `s`, `s` first; `enter` says whether to look inside one. */
function visit(s: Stmt, enter: (s: Stmt) => boolean): void {
  if (!enter(s)) return;
  switch (s.t) {
    case 'block':
      for (const c of s.body) visit(c, enter);
      return;
    case 'if':
      visit(s.a, enter);
      if (s.b) visit(s.b, enter);
      return;
    case 'for':
      // Its initialiser is part of its header line.
      visit(s.body, enter);
      return;
    case 'while':
    case 'do':
    case 'macroloop':
      visit(s.body, enter);
      return;
    case 'label':
      visit(s.s, enter);
      return;
    case 'switch':
      visit(s.body, enter);
      return;
  }
}

/** Expand hunks to the lines of one side. */
export function linesOf(hunks: readonly EditedHunk[], side: 'before' | 'after'): number[] {
  const out: number[] = [];
  for (const h of hunks) {
    const r = h[side];
    if (r) for (let l = r[0]; l <= r[1]; l++) out.push(l);
  }
  return out;
}

const OUTCOMES: GupOutcome[] = ['short', 'zero', 'errno'];

/** What one acquire result was, of the outcomes coverage asks for. */
function outcomeOf(r: GupResultLog): GupOutcome | undefined {
  if (r.got < 0) return 'errno';
  if (r.got === 0) return 'zero';
  if (r.got < r.asked) return 'short';
  return undefined;
}

/** Coverage of one group, run by run. */
export class CoverageCounter {
  private readonly runs = new Map<EditedStatement, number>();
  private readonly outcomeRuns = new Map<GupOutcome, number>(OUTCOMES.map((o) => [o, 0]));
  private asked = 0;
  /** Some acquire was asked for 0 pages, or for a count the scenario could not bind. */
  private countVaries = false;

  constructor(
    private readonly statements: readonly EditedStatement[],
    /** The group acquires in this file: the outcomes of its acquire count. */
    private readonly acquires: boolean,
    /** Every acquire of the group is a `*_fast_only` one: it fails with 0, never an -errno. */
    private readonly fastOnly: boolean,
  ) {
    for (const s of statements) this.runs.set(s, 0);
  }

  /** One compared pair of runs. */
  add(before: Outcome, after: Outcome): void {
    for (const s of this.statements) if ((s.side === 'before' ? before : after).executed.has(s.stmt)) this.runs.set(s, this.runs.get(s)! + 1);
    if (!this.acquires) return;
    const seen = new Set<GupOutcome>();
    for (const r of before.gupResults) {
      this.asked = Math.max(this.asked, r.asked);
      if (!r.fixed || r.asked === 0) this.countVaries = true;
      const o = outcomeOf(r);
      if (o) seen.add(o);
    }
    // A run that faulted never got to release or return what it was given.
    if (before.fault) return;
    for (const o of seen) this.outcomeRuns.set(o, this.outcomeRuns.get(o)! + 1);
  }

  /**
   * Outcomes follow GUP's contract (mm/gup.c): 0 pages asked → 0; none pinned → -errno; some →
   * how many. So 0 comes of a count that can be 0, or of a `*_fast_only` failure; a count of one
   * is never short; `*_fast_only` returns no -errno.
   */
  private impossible(outcome: GupOutcome): string | undefined {
    if (outcome === 'short' && this.asked <= 1) return 'the acquire asks for one page at most';
    if (outcome === 'zero' && !this.fastOnly && !this.countVaries) return 'the acquire is never asked for 0 pages, and none pinned is an -errno';
    if (outcome === 'errno' && this.fastOnly) return 'the acquire returns 0, not an error, when it fails';
    return undefined;
  }

  result(): Coverage {
    const statements: StatementCoverage[] = this.statements.map((s) => ({ side: s.side, line: s.line, text: s.text, runs: this.runs.get(s)! }));
    const outcomes: OutcomeCoverage[] = !this.acquires
      ? []
      : OUTCOMES.map((outcome) => {
          const c: OutcomeCoverage = { outcome, runs: this.outcomeRuns.get(outcome)! };
          const impossible = this.impossible(outcome);
          if (impossible) c.impossible = impossible;
          return c;
        });
    return { statements, outcomes };
  }

  /** What the scenarios did not reach, for the `not-reached` reason; undefined if nothing. */
  gaps(entered: (fn: string, side: 'before' | 'after') => number): string | undefined {
    const missed = this.statements.filter((s) => this.runs.get(s) === 0);
    const parts = missed.map((s) => {
      const n = entered(s.fn, s.side);
      const why = n ? `${s.fn}() ran in ${n} scenario${n === 1 ? '' : 's'}, this statement in none` : `no scenario enters ${s.fn}()`;
      return `${s.side} line ${s.line} \`${s.text}\`: ${why}`;
    });
    for (const o of this.result().outcomes)
      if (!o.runs && !o.impossible) parts.push(`no scenario runs the code after ${OUTCOME_TEXT[o.outcome]} to its end`);
    return parts.length ? parts.join('; ') : undefined;
  }
}

export const OUTCOME_TEXT: Record<GupOutcome, string> = {
  short: 'a short pin (0 < ret < n)',
  zero: 'an acquire that returned 0',
  errno: 'an -errno acquire',
};

/**
 * `coverage: 6/6 edited statements ran (before 4/4, after 2/2); run on past a short pin 4, 0 pages 1,
 * -errno 5` (scenarios each).
 */
export function coverageLine(c: Coverage): string {
  const ran = (xs: StatementCoverage[]) => `${xs.filter((s) => s.runs > 0).length}/${xs.length}`;
  const side = (k: 'before' | 'after') => c.statements.filter((s) => s.side === k);
  const parts = [`${ran(c.statements)} edited statements ran (before ${ran(side('before'))}, after ${ran(side('after'))})`];
  const label: Record<GupOutcome, string> = { short: 'a short pin', zero: 'a return of 0', errno: '-errno' };
  if (c.outcomes.length) parts.push(`run on past ${c.outcomes.map((o) => `${label[o.outcome]} ${o.impossible ? '(impossible)' : o.runs}`).join(', ')}`);
  return `coverage: ${parts.join('; ')}`;
}
