/**
 * Scenarios for one session: page counts (0, 1, 3), GUP results (full, short then the rest,
 * short then an error, 0, -errno), a large folio, file-backed pages written back during the DMA,
 * the zero page; then every opaque decision the code makes flipped once (each error path and
 * each value of a dirty condition).
 *
 * Before generating them, discovery finds the decisions needed to reach the acquire at all and
 * binds the opaque inputs of its count (a size in bytes, a page count, an address) so that it
 * asks for exactly the scenario's number of pages.
 */
import type { TargetApi } from '../target.ts';
import { Oracle, type GupResult, type RunConfig } from './interp.ts';
import type { Func } from './lower.ts';
import { Sym } from './memory.ts';
import { keptForComparison, runSession, type Outcome } from './outcome.ts';

export type GupMode = 'full' | 'short' | 'short-fail' | 'later-short' | 'zero' | 'errno' | 'later-fail';

export interface Scenario {
  label: string;
  n: number;
  mode: GupMode;
  folioOrder: number;
  mapping: 'anon' | 'file';
  writeback: boolean;
  /**
   * The user pages are dirty before the acquire: the user wrote them through a shared mapping,
   * or they went through the swap cache. Per-page set_page_dirty_lock()/SetPageDirty() dirties
   * them again; the unpin helpers skip them (the 'already-dirty-skipped' difference).
   */
  userDirty?: boolean;
  zeroPage: boolean;
  scattered?: boolean;
  flips: string[];
  bindings: Map<string, number>;
}

const EFAULT = -14;

const GUP_RESULTS: Record<GupMode, GupResult> = {
  full: (_, n) => n,
  short: (call, n) => (call === 1 ? Math.max(1, n - 1) : n),
  // Code that acquires one page per call is short when a later call fails: its first call gets
  // its page (a first call of 0 pages is the zero mode's).
  'short-fail': (call, n) => (call === 1 ? (n > 1 ? n - 1 : n) : EFAULT),
  // The first acquire gets everything, the next one is short (a second buffer, the next page).
  'later-short': (call, n) => (call === 1 ? n : call === 2 && n > 1 ? n - 1 : EFAULT),
  zero: (call) => (call === 1 ? 0 : EFAULT),
  errno: () => EFAULT,
  'later-fail': (call, n) => (call === 1 ? n : EFAULT),
};

const MODE_TEXT: Record<GupMode, string> = {
  full: 'GUP gets every page',
  short: 'GUP first gets one page short, then the rest',
  'short-fail': 'GUP gets one page short, then fails with -EFAULT',
  'later-short': 'GUP gets every page, then one page short, then fails with -EFAULT',
  zero: 'GUP gets 0 pages, then fails with -EFAULT',
  errno: 'GUP fails with -EFAULT',
  'later-fail': 'GUP gets every page, then fails with -EFAULT on its next call',
};

export function configFor(s: Scenario, api: TargetApi, oracle: Oracle): RunConfig {
  return {
    api,
    oracle,
    gup: GUP_RESULTS[s.mode],
    folioOrder: s.folioOrder,
    mapping: s.mapping,
    writeback: s.writeback,
    userDirty: s.userDirty,
    zeroPage: s.zeroPage,
    scattered: s.scattered,
    pagesWhenOpaque: s.n,
  };
}

export function runBefore(funcs: ReadonlyMap<string, Func>, steps: string[], s: Scenario, api: TargetApi, discovery = false): Outcome {
  const cfg = configFor(s, api, new Oracle(new Set(s.flips), s.bindings));
  cfg.stopAtFirstAcquire = discovery;
  return runSession(funcs, steps, cfg);
}

/**
 * Discovery runs made, by file, target and what they ran: a run stops at the first acquire, at a
 * fault or after a step that failed, and then it ran only the steps up to there. It is the run
 * of every session that starts with those steps (the sessions of one acquirer, one per releaser),
 * in the same world with the same flips: a run never looks at the steps it has not reached.
 */
const discoveries = new WeakMap<ReadonlyMap<string, Func>, WeakMap<TargetApi, Map<string, Outcome>>>();

/** How a discovery run ended, for the sessions it is the run of (see discover). */
type RunEnd = 'fault' | 'failed-step' | 'last-step';

function discover(funcs: ReadonlyMap<string, Func>, steps: string[], s: Scenario, api: TargetApi): Outcome {
  let byApi = discoveries.get(funcs);
  if (!byApi) discoveries.set(funcs, (byApi = new WeakMap()));
  let made = byApi.get(api);
  if (!made) byApi.set(api, (made = new Map()));
  const scenario = `${worldOf(s)}\u0001${[...new Set(s.flips)].sort().join('\u0000')}`;
  const key = (end: RunEnd, ran: number) => `${end}\u0001${scenario}\u0001${steps.slice(0, ran).join('\u0000')}`;
  for (let ran = 1; ran <= steps.length; ran++) {
    // A step that failed ends a session only where another step follows it; a run that got to
    // its last step is the run of that session alone.
    const known = made.get(key('fault', ran)) ?? made.get(key(ran < steps.length ? 'failed-step' : 'last-step', ran));
    if (known) return known;
  }
  const out = runBefore(funcs, steps, s, api, true);
  const end: RunEnd = out.fault ? 'fault' : out.returns.length < steps.length ? 'failed-step' : 'last-step';
  made.set(key(end, out.fault ? out.returns.length + 1 : out.returns.length), out);
  return out;
}

/** The after run sees the world the before run saw: same bindings, same decisions. */
export function runAfter(funcs: ReadonlyMap<string, Func>, steps: string[], s: Scenario, api: TargetApi, before: Outcome, untouched?: ReadonlySet<string>): Outcome {
  const cfg = configFor(s, api, new Oracle(new Set(s.flips), s.bindings, before.decisions, before.indices, before.facts));
  cfg.untouched = untouched;
  return runSession(funcs, steps, cfg);
}

const base = (n: number, mode: GupMode, extra: Partial<Scenario> = {}): Scenario => ({
  label: '',
  n,
  mode,
  folioOrder: 0,
  mapping: 'anon',
  writeback: false,
  zeroPage: false,
  flips: [],
  bindings: new Map(),
  ...extra,
});

/** Discovery runs per session (each stops at the first acquire), and flips combined at most. */
const DISCOVERY_BUDGET = 100;
const DISCOVERY_DEPTH = 4;

/**
 * Decisions (flips) that make the session reach an acquire, with the discovery run that reached
 * it; undefined if none found. Breadth first: the fewest flips win. Real drivers need four:
 * ublk's work list non-empty, the request's bio there, bio_has_data(), the copy loop entered.
 */
function reachAcquire(funcs: ReadonlyMap<string, Func>, steps: string[], api: TargetApi): { flips: string[]; reached: Outcome } | undefined {
  const queue: string[][] = [[]];
  const tried = new Set<string>();
  for (let runs = 0; queue.length && runs < DISCOVERY_BUDGET; runs++) {
    const flips = queue.shift()!;
    const out = discover(funcs, steps, base(3, 'full', { flips }), api);
    if (out.gupCalls > 0) return { flips, reached: out };
    if (flips.length >= DISCOVERY_DEPTH) continue;
    for (const k of out.decisionOrder) {
      if (flips.includes(k)) continue;
      const next = [...flips, k].sort();
      const id = next.join('\u0000');
      if (tried.has(id)) continue;
      tried.add(id);
      queue.push(next);
    }
  }
  return undefined;
}

/**
 * Concrete values for the opaque inputs of the first acquire's count so that it asks for `n`
 * pages: counts, sizes in bytes and addresses are what such inputs are. `reached` is the
 * unbound discovery run: the page count plays no part before the acquire, so it serves every `n`.
 */
function bindCount(funcs: ReadonlyMap<string, Func>, steps: string[], api: TargetApi, flips: string[], reached: Outcome, n: number): Map<string, number> | undefined {
  const count = reached.gupCounts[0];
  if (typeof count === 'number') return count === n ? new Map() : undefined;
  if (!(count instanceof Sym)) return undefined;
  const atoms = count.atoms.slice(0, 3);
  const combos = (candidates: number[], i: number): Array<Map<string, number>> => {
    if (i === atoms.length) return [new Map()];
    return combos(candidates, i + 1).flatMap((rest) => candidates.map((c) => new Map([[atoms[i], c], ...rest])));
  };
  const common = [n, n * 4096, 0x10000000, 0x10000000 + n * 4096];
  // Then a size that is a product, `lines * stride` (via's blits): one factor a page, the other
  // the count. Tried only when nothing simpler binds, so that what binds today stays bound alike;
  // without it a short pin of an unbound count reads as a full pin of fewer pages.
  for (const candidates of [common, [...common, 4096, 1]]) {
    for (const bindings of combos(candidates, 0)) {
      if (candidates !== common && [...bindings.values()].every((v) => common.includes(v))) continue;
      const out = discover(funcs, steps, base(n, 'full', { flips, bindings }), api);
      if (out.gupCounts[0] === n || (n === 0 && out.gupCalls === 0 && !out.fault)) return bindings;
    }
  }
  return undefined;
}

export interface SessionPlan {
  scenarios: Scenario[];
  /** The acquire is never reached: only the code as such is compared. */
  noAcquire: boolean;
  /** The session's before runs: planning's are not made again. */
  runs: BeforeRuns;
}

/**
 * The before runs of one session, each made once. A scenario that only adds flips of decisions
 * an earlier run of the same world never asked for runs exactly like that one (a flip acts only
 * when its decision is asked), so it gets that run: a pair whose second decision only exists on
 * the first one's other branch, an error path that returns before a later flip is reached.
 */
export class BeforeRuns {
  private readonly byKey = new Map<string, Outcome>();

  constructor(
    private readonly funcs: ReadonlyMap<string, Func>,
    private readonly steps: string[],
    private readonly api: TargetApi,
  ) {}

  get(s: Scenario): Outcome {
    const world = worldOf(s);
    const flips = [...new Set(s.flips)].sort();
    const key = `${world}\u0001${flips.join('\u0000')}`;
    let out = this.byKey.get(key);
    if (!out) this.byKey.set(key, (out = this.unaffected(world, flips) ?? keptForComparison(runBefore(this.funcs, this.steps, s, this.api))));
    return out;
  }

  /**
   * A run of the same world without one or two of `flips` that asked none of them: scenarios
   * add a flip or two to one already run (pairs, deeper and reconsulted decisions).
   */
  private unaffected(world: string, flips: string[]): Outcome | undefined {
    const without = (skip: (i: number) => boolean): Outcome | undefined => {
      const run = this.byKey.get(`${world}\u0001${flips.filter((_, i) => !skip(i)).join('\u0000')}`);
      return run && flips.every((f, i) => !skip(i) || !run.decisions.has(f)) ? run : undefined;
    };
    for (let i = 0; i < flips.length; i++) {
      const run = without((k) => k === i);
      if (run) return run;
    }
    for (let i = 0; i < flips.length; i++)
      for (let j = i + 1; j < flips.length; j++) {
        const run = without((k) => k === i || k === j);
        if (run) return run;
      }
    return undefined;
  }
}

/** Everything a scenario fixes besides its flips. */
export function worldOf(s: Scenario): string {
  return [s.n, s.mode, s.folioOrder, s.mapping, s.writeback, s.userDirty, s.zeroPage, s.scattered, ...s.bindings].join();
}

const MAX_FLIPS = 24;

export function planScenarios(funcs: ReadonlyMap<string, Func>, steps: string[], api: TargetApi, acquireName: string): SessionPlan {
  const runs = new BeforeRuns(funcs, steps, api);
  const run = (s: Scenario) => runs.get(s);
  const discovered = reachAcquire(funcs, steps, api);
  if (!discovered) {
    const only = base(3, 'full', { label: 'the code as called, no acquire reached' });
    return { scenarios: [only, ...flipScenarios(run, only)], noAcquire: true, runs };
  }
  const { flips, reached } = discovered;
  const bound = new Map<number, Map<string, number>>();
  for (const n of [0, 1, 3]) {
    const b = bindCount(funcs, steps, api, flips, reached, n);
    if (b) bound.set(n, b);
  }
  const fallback = bound.get(3) ?? new Map<string, number>();
  const scenarios: Scenario[] = [];
  const add = (n: number, mode: GupMode, extra: Partial<Scenario>, what: string) => {
    const bindings = bound.get(n) ?? (n === 3 ? fallback : undefined);
    if (!bindings) return;
    const s = base(n, mode, { flips, bindings, ...extra });
    s.label = `${n} page${n === 1 ? '' : 's'}${what}, ${MODE_TEXT[mode].replace('GUP', `${acquireName}()`)}`;
    scenarios.push(s);
  };
  add(1, 'full', {}, '');
  add(3, 'full', {}, '');
  add(3, 'short', {}, '');
  add(3, 'short-fail', {}, '');
  add(3, 'zero', {}, '');
  add(3, 'errno', {}, '');
  add(0, 'full', {}, '');
  add(3, 'full', { folioOrder: 2 }, ' of one large folio');
  add(3, 'full', { mapping: 'file', writeback: true }, ' file-backed, written back during the DMA');
  add(3, 'full', { zeroPage: true }, ' all the zero page');
  const scattered = 'not physically contiguous';
  add(3, 'full', { scattered: true }, ` ${scattered}`);
  const happy = scenarios[1] ?? scenarios[0];
  const failing = scenarios.find((s) => s.mode === 'short-fail');
  // A session that acquires more than once (two single pages, a page at a time) has an error
  // path where the first acquire succeeded whole and a later one fails: s390's second indicator
  // page, which 'short-fail' never reaches when each call asks for one page (n - 1 = 0).
  // Likewise a later acquire that falls short (a second buffer). A session with one acquire
  // call runs either as 'full'.
  if (happy && run(happy).gupCalls > 1) {
    add(3, 'later-fail', {}, '');
    add(3, 'later-short', {}, '');
  }
  if (happy) {
    const single = flipScenarios(run, happy);
    scenarios.push(...single, ...pairScenarios(single), ...deeperScenarios(run, happy, single), ...reconsultedScenarios(run, single));
    // Physical contiguity only matters to code that acquires page by page (vfio's pfn runs).
    const repeated = single.filter((s) => run(s).gupCalls > 1).slice(0, MAX_REPEATED);
    scenarios.push(...repeated.map((s) => ({ ...s, scattered: true, label: `${s.label}, pages ${scattered}` })));
  }
  if (failing) scenarios.push(...flipScenarios(run, failing).slice(0, MAX_FLIPS / 2));
  if (happy)
    for (const u of unflipScenarios(happy)) scenarios.push(u, ...flipScenarios(run, u).slice(0, MAX_FLIPS / 2));
  const dirtied = scenarios.find((s) => !s.userDirty && run(s).folios.some((f) => f.dirtyLog.length));
  if (dirtied) scenarios.push({ ...dirtied, userDirty: true, label: `${dirtied.label}, the pages already dirty (the user wrote them)` });
  return { scenarios, noAcquire: false, runs };
}

/** The same scenario with each decision its before run made flipped, one at a time. */
function flipScenarios(run: (s: Scenario) => Outcome, s: Scenario): Scenario[] {
  const out = run(s);
  // Error paths after the acquire first: they are what the release code must get right.
  const at = out.acquireAt ?? 0;
  return [...out.decisionOrder.slice(at), ...out.decisionOrder.slice(0, at)]
    .filter((k) => !s.flips.includes(k))
    .slice(0, MAX_FLIPS)
    .map((k) => ({ ...s, flips: [...s.flips, k], label: `${s.label}, with \`${shortKey(k)}\` taken the other way` }));
}

/**
 * A flip after the acquire with an earlier decision its path consults again flipped too: an error
 * path that releases, with the write flag that decides whether the release dirties.
 */
function reconsultedScenarios(run: (s: Scenario) => Outcome, single: Scenario[]): Scenario[] {
  return single.flatMap((s) =>
    [...run(s).reconsulted]
      .filter((k) => !s.flips.includes(k))
      .slice(0, DEEPER)
      .map((k) => ({ ...s, flips: [...s.flips, k], label: `${s.label}, and \`${shortKey(k)}\`` })),
  );
}

const DEEPER = 2;
const MAX_REPEATED = 4;

/**
 * Decisions a flip reveals, flipped as well: a teardown loop that only runs once its count is
 * flipped non-zero, then the flag inside it that says whether the entry holds a page.
 */
function deeperScenarios(run: (s: Scenario) => Outcome, happy: Scenario, single: Scenario[]): Scenario[] {
  const known = new Set(run(happy).decisionOrder);
  return single.flatMap((s) =>
    run(s)
      .decisionOrder.filter((k) => !known.has(k) && !s.flips.includes(k))
      .slice(0, DEEPER)
      .map((k) => ({ ...s, flips: [...s.flips, k], label: `${s.label}, then \`${shortKey(k)}\`` })),
  );
}

/**
 * The paths discovery stepped over, each decision it needed taken back: the same entry points
 * without the acquire, where the other page sources of the group (a shmem or page-cache branch
 * beside the GUP one) are taken and released.
 */
function unflipScenarios(s: Scenario): Scenario[] {
  return s.flips.map((k) => ({ ...s, flips: s.flips.filter((f) => f !== k), label: `${s.label}, with \`${shortKey(k)}\` not taken to reach the acquire` }));
}

const PAIRED = 6;

/**
 * Pairs of the first decisions after the acquire, flipped together: a release path and the
 * dirty condition inside it, an error path and the flag it tests.
 */
function pairScenarios(single: Scenario[]): Scenario[] {
  const first = single.slice(0, PAIRED);
  const out: Scenario[] = [];
  for (let i = 0; i < first.length; i++)
    for (let j = i + 1; j < first.length; j++) {
      const extra = first[j].flips.at(-1)!;
      out.push({ ...first[i], flips: [...first[i].flips, extra], label: `${first[i].label} and \`${shortKey(extra)}\`` });
    }
  return out;
}

const shortKey = (k: string) => (k.length > 70 ? `${k.slice(0, 67)}…` : k);
