/**
 * One simulated run of a session (entry functions called in order on one shared world) and
 * what it leaves behind; and the comparison of a before run with an after run.
 */
import type { Facts } from './facts.ts';
import { Machine, type GupResultLog, type RunConfig } from './interp.ts';
import type { Func, Stmt } from './lower.ts';
import { Fault, Obj, Ptr, Sym, show, type Val } from './memory.ts';
import { Page, type DirtyEvent, type SimError } from './pages.ts';
import { ACQUIRE_NAMES, DIRTY_CALLS, RELEASE_APIS } from '../sites/api.ts';
import type { DivergenceReason, IntendedDifference } from './verdict.ts';

export interface FolioState {
  label: string;
  held: number;
  dirty: boolean;
  dirtyLog: DirtyEvent[];
}

export interface Outcome {
  fault?: string;
  /** The modelled kernel call the fault happened in, if any. */
  faultCall?: string;
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
  gupResults: readonly GupResultLog[];
  executed: ReadonlySet<Stmt>;
  usedPins: boolean;
}

export function runSession(funcs: ReadonlyMap<string, Func>, steps: string[], cfg: RunConfig): Outcome {
  const m = new Machine(funcs, cfg);
  const returns: string[] = [];
  let fault: string | undefined;
  let faultCall: string | undefined;
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
    faultCall = e.call;
    m.pages.note(`  !! ${e.message}`);
  }
  return {
    fault,
    faultCall,
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

/** The run was stopped at the step limit (a loop that never ends under this scenario). */
const runaway = (o: Outcome) => !!o.fault && /step limit/.test(o.fault);

/**
 * A before run as kept for its comparison, which comes later. One stopped at the step limit is
 * compared on its fault alone (see compare), so the memory and the calls it left are let go: on
 * a loop that spins to the limit, hundreds of objects and thousands of calls per run, for every
 * scenario of the session, kept until the last of them is compared.
 */
export function keptForComparison(o: Outcome): Outcome {
  return runaway(o) ? { ...o, heap: [], events: [] } : o;
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
  /**
   * Both runs fault at corresponding calls and agree on everything up to there: the model stops
   * both, so nothing past it is compared (verdict `unverifiable`, code `model-fault`).
   */
  modelFault?: string;
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
  if (a.fault && a.fault === b.fault && runaway(a)) return { differences };
  // A before run that spun and an after run that did not took different paths: the faults say
  // so, and nothing else of the before run is read (keptForComparison).
  if (runaway(b)) return diverge('fault', a.fault ? `after: ${a.fault} (before: ${b.fault})` : `before faults (${b.fault}) but after does not: the runs took different paths`);
  // One run against itself: only what it says of itself can be wrong.
  if (a === b) return notPinned(a, differences);
  const modelFault = a.fault && b.fault && a.fault !== b.fault ? correspondingFaults(b, a) : undefined;
  if (a.fault && a.fault !== b.fault && !modelFault) return diverge('fault', `after: ${a.fault}${b.fault ? ` (before: ${b.fault})` : ''}`);
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
  const pinned = notPinned(a, differences);
  return pinned.divergence || !modelFault ? pinned : { differences, modelFault };
}

const FAMILY_RANK = { get: 0, interim: 1, pin: 2 } as const;

/**
 * A call and what the conversion may have made of it: itself, an acquire for an acquire, a release
 * for a release of the same family or an older one (put_page() loop → unpin_user_pages()), a
 * release that dirties for the dirtying call it took in (`set_page_dirty_lock(p); put_page(p);`
 * → `unpin_user_pages_dirty_lock(&p, 1, true)`).
 */
function counterparts(before: string, after: string): boolean {
  if (before === after) return true;
  if (ACQUIRE_NAMES.has(before) && ACQUIRE_NAMES.has(after)) return true;
  const b = Object.hasOwn(RELEASE_APIS, before) ? RELEASE_APIS[before] : undefined;
  const a = Object.hasOwn(RELEASE_APIS, after) ? RELEASE_APIS[after] : undefined;
  if (Object.hasOwn(DIRTY_CALLS, before)) return !!a && /dirty/.test(after);
  return !!a && !!b && FAMILY_RANK[a.family] >= FAMILY_RANK[b.family];
}

/** The fault message with its call's name taken out: what kind of fault it is. */
const faultKind = (fault: string, call: string) => fault.replace(new RegExp(`\\b${call}\\b`, 'g'), '<call>');

/**
 * Both runs fault at the same point: after the same number of calls the simulator records, in a
 * call and its converted counterpart, with the same kind of fault (`NULL dereference` of the
 * array, the same negative count). Not a fault in code the simulator runs itself (a NULL
 * struct pointer): that is the code's, and comparing the messages says whether it changed.
 */
function correspondingFaults(b: Outcome, a: Outcome): string | undefined {
  if (!a.fault || !b.fault || !a.faultCall || !b.faultCall) return undefined;
  if (a.events.length !== b.events.length || a.returns.length !== b.returns.length) return undefined;
  if (!counterparts(b.faultCall, a.faultCall)) return undefined;
  if (faultKind(b.fault, b.faultCall) !== faultKind(a.fault, a.faultCall)) return undefined;
  return `before and after both fault at corresponding calls: before ${b.fault}, after ${a.fault}`;
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
