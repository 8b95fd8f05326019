/**
 * One simulated run of a session (entry functions called in order on one shared world) and
 * what it leaves behind; and the comparison of a before run with an after run.
 */
import type { Facts } from './facts.ts';
import { Machine, type RunConfig } from './interp.ts';
import type { Func, Stmt } from './lower.ts';
import { Fault, Obj, Ptr, Sym, show, type Val } from './memory.ts';
import { Page, type DirtyEvent, type SimError } from './pages.ts';
import type { DivergenceReason, IntendedDifference } from './verdict.ts';

export interface FolioState {
  label: string;
  held: number;
  dirty: boolean;
  dirtyLog: DirtyEvent[];
}

export interface Outcome {
  fault?: string;
  errors: SimError[];
  events: string[];
  unknownReleases: string[];
  returns: string[];
  folios: FolioState[];
  /** Every heap object, dumped only by a comparison that gets that far (most runs never do). */
  heap: Obj[];
  unpinned: string[];
  unsupported: string[];
  log: string[];
  /** The file's functions the run entered. */
  entered: ReadonlySet<string>;
  decisions: Map<string, boolean>;
  facts: Facts;
  indices: Map<string, number>;
  decisionOrder: string[];
  reconsulted: Set<string>;
  acquireAt?: number;
  gupCalls: number;
  gupCounts: Val[];
  gupResults: ReadonlyArray<{ asked: number; got: number }>;
  executed: ReadonlySet<Stmt>;
  usedPins: boolean;
}

export function runSession(funcs: ReadonlyMap<string, Func>, steps: string[], cfg: RunConfig): Outcome {
  const m = new Machine(funcs, cfg);
  const returns: string[] = [];
  let fault: string | undefined;
  try {
    for (const [i, name] of steps.entries()) {
      const fn = funcs.get(name);
      if (!fn) throw new Fault(`no function ${name}() in this version of the file`);
      m.pages.note(`${name}():`);
      const r = m.invoke(name, fn.params.map((p) => m.argument(p.name, p.type)));
      returns.push(`${name}() = ${show(r)}`);
      if (i === steps.length - 1) break;
      // A step that returns an errno, an ERR_PTR or NULL failed: nobody tears it down.
      // An opaque int the run already decided was non-zero is an error code too (kernel
      // convention: 0 or -errno), or the teardown would run on what was never set up.
      const failed = m.isErrorValue(r) || (r === 0 && fn.returnType.endsWith('*')) || (r instanceof Sym && /^(int|long|ssize_t)$/.test(fn.returnType) && cfg.oracle.decisions.get(r.key) === true);
      if (failed) {
        m.pages.note(`${name}() failed: nothing to tear down`);
        break;
      }
      m.remember(fn.returnType, r);
      // After a constructor, nothing is held yet.
      if (m.pages.holding) m.pages.note('the device uses the pages');
      m.device();
    }
  } catch (e) {
    if (!(e instanceof Fault)) throw e;
    fault = e.message;
    m.pages.note(`  !! ${e.message}`);
  }
  return {
    fault,
    errors: m.pages.errors,
    events: m.events,
    unknownReleases: m.unknownReleases,
    returns,
    folios: m.pages.folios.map((f) => ({ label: f.label, held: f.held, dirty: f.dirty, dirtyLog: f.dirtyLog })),
    heap: m.heap,
    unpinned: [...m.pages.unpinnedWhileHeld].map((f) => f.label),
    unsupported: [...m.unsupported],
    log: m.pages.log,
    entered: m.entered,
    decisions: cfg.oracle.decisions,
    facts: cfg.oracle.facts,
    indices: cfg.oracle.indices,
    decisionOrder: cfg.oracle.order,
    reconsulted: cfg.oracle.reconsulted,
    acquireAt: cfg.oracle.acquireAt,
    gupCalls: m.gupCalls,
    gupCounts: m.gupCounts,
    gupResults: m.gupResults,
    executed: m.executed,
    usedPins: m.usedPins,
  };
}

/** Live memory as sorted text lines: what both runs leave in arrays and structs. */
function dumpMemory(heap: Obj[]): string[] {
  const seen = new Set<Obj>();
  const lines: string[] = [];
  const work = [...heap];
  const visit = (v: Val | undefined) => {
    if (v instanceof Ptr && !(v.obj instanceof Page)) work.push(v.obj);
    if (v instanceof Sym && v.obj) work.push(v.obj);
  };
  while (work.length) {
    const o = work.pop()!;
    if (seen.has(o) || o.freed || o.isCell) continue;
    seen.add(o);
    const parts: string[] = [];
    for (const [k, v] of o.fields()) {
      parts.push(`${k}=${show(v)}`);
      visit(v);
    }
    for (const [i, v] of o.slots()) {
      parts.push(`[${i}]=${show(v)}`);
      visit(v);
    }
    for (const v of o.autoValues()) visit(v);
    for (const [, c] of o.fieldCells()) work.push(c);
    for (const [, e] of o.elements()) work.push(e);
    if (parts.length) lines.push(`${o.label}: ${parts.sort().join(' ')}`);
  }
  return lines.sort();
}

export interface Comparison {
  divergence?: { reason: DivergenceReason; detail: string };
  differences: Set<IntendedDifference>;
  unsupported?: string;
}

const countBy = (xs: string[]) => {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
};

export function compare(b: Outcome, a: Outcome): Comparison {
  const differences = new Set<IntendedDifference>();
  const diverge = (reason: DivergenceReason, detail: string): Comparison => ({ divergence: { reason, detail }, differences });
  if (b.unsupported.length || a.unsupported.length) {
    const unsupported = new Set([...b.unsupported, ...a.unsupported]);
    return { differences, unsupported: [...unsupported].join(', ') };
  }
  // Both runs spun until the step limit: where each stopped says nothing about the code.
  if (a.fault && a.fault === b.fault && /step limit/.test(a.fault)) return { differences };
  // One run against itself: only what it says of itself can be wrong.
  if (a === b) return notPinned(a, differences);
  if (a.fault && a.fault !== b.fault) return diverge('fault', `after: ${a.fault}${b.fault ? ` (before: ${b.fault})` : ''}`);
  if (b.fault && !a.fault) return diverge('fault', `before faults (${b.fault}) but after does not: the runs took different paths`);

  // Errors the after run makes that the before run did not.
  const before = countBy(b.errors.map((e) => `${e.kind} ${e.what}`));
  for (const e of a.errors) {
    const k = `${e.kind} ${e.what}`;
    const n = before.get(k) ?? 0;
    if (n > 0) before.set(k, n - 1);
    else return diverge(e.kind, e.detail);
  }

  const bf = new Map(b.folios.map((f) => [f.label, f]));
  for (const f of a.folios) {
    const g = bf.get(f.label);
    if (!g) return diverge('calls', `after touches page ${f.label}, which the before run never had`);
    if (f.held > g.held) return diverge('leak', `${f.label}: after keeps ${f.held - g.held} more reference${f.held - g.held > 1 ? 's/pins' : '/pin'} than before`);
    if (f.held < g.held) return diverge('over-release', `${f.label}: after releases ${g.held - f.held} more time${g.held - f.held > 1 ? 's' : ''} than before`);
  }

  if (!sameText(b.unknownReleases, a.unknownReleases)) {
    const i = firstDifference(b.unknownReleases, a.unknownReleases);
    const releases = (xs: string[]) => xs.filter((x) => x.startsWith('release(')).length;
    const more = releases(a.unknownReleases) - releases(b.unknownReleases);
    if (more > 0) return diverge('over-release', `after releases ${more} more page${more > 1 ? 's' : ''} of unknown origin (e.g. ${a.unknownReleases[i]})`);
    if (more < 0) return diverge('leak', `after releases ${-more} fewer page${more < -1 ? 's' : ''} of unknown origin than before`);
    return diverge('calls', `release of a page of unknown origin: before ${b.unknownReleases[i] ?? '(none)'}, after ${a.unknownReleases[i] ?? '(none)'}`);
  }

  for (const f of a.folios) {
    const g = bf.get(f.label)!;
    const d = compareDirty(g, f, differences);
    if (d) return diverge('dirty', d);
  }

  if (!sameText(b.events, a.events)) {
    const i = firstDifference(b.events, a.events);
    return diverge('calls', `call ${i + 1}: before ${b.events[i] ?? '(none)'}, after ${a.events[i] ?? '(none)'}`);
  }
  if (!sameText(b.returns, a.returns)) {
    const i = firstDifference(b.returns, a.returns);
    return diverge('return', `before ${b.returns[i] ?? '(nothing)'}, after ${a.returns[i] ?? '(nothing)'}`);
  }
  const bm = dumpMemory(b.heap);
  const am = dumpMemory(a.heap);
  if (!sameText(bm, am)) {
    const bs = new Set(bm);
    const line = am.find((l) => !bs.has(l)) ?? bm.find((l) => !am.includes(l))!;
    return diverge('memory', `memory differs: ${line}`);
  }
  return notPinned(a, differences);
}

function notPinned(a: Outcome, differences: Set<IntendedDifference>): Comparison {
  if (a.usedPins && a.unpinned.length)
    return { divergence: { reason: 'not-pinned', detail: `${a.unpinned.join(', ')} held while the device writes, but page_maybe_dma_pinned() is false` }, differences };
  return { differences };
}

/** `x.join('\n') === y.join('\n')`, without building the texts when the lines are the same. */
function sameText(x: string[], y: string[]): boolean {
  if (x.length === y.length && x.every((line, i) => line === y[i])) return true;
  return x.join('\n') === y.join('\n');
}

function firstDifference(x: string[], y: string[]): number {
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return i;
}

/** Dirtying that changed the page (it was clean): the only kind that matters for data. */
const effective = (log: DirtyEvent[]) => log.filter((e) => !e.wasDirty);

function compareDirty(b: FolioState, a: FolioState, differences: Set<IntendedDifference>): string | undefined {
  if (b.dirty !== a.dirty) return `${a.label} ends ${a.dirty ? 'dirty' : 'clean'} after but ${b.dirty ? 'dirty' : 'clean'} before`;
  const be = effective(b.dirtyLog);
  const ae = effective(a.dirtyLog);
  if (be.length !== ae.length) return `${a.label} is dirtied ${ae.length} time(s) after, ${be.length} before`;
  for (let i = 0; i < be.length; i++) {
    const x = be[i];
    const y = ae[i];
    if (x.via === 'flag' && y.via === 'mapping') differences.add('SetPageDirty-to-mapping');
    else if (x.via === 'mapping' && y.via === 'flag') return `${a.label} is only flagged dirty after (SetPageDirty), through the mapping before`;
    else if (!x.locked && y.locked) differences.add('set_page_dirty-to-lock');
    else if (x.locked && !y.locked) return `${a.label} is dirtied without the page lock after, under it before`;
  }
  if (b.dirtyLog.length - be.length > a.dirtyLog.length - ae.length) differences.add('already-dirty-skipped');
  return undefined;
}
