/**
 * Verification: run the before and after versions of a file through the simulator, session by
 * session and scenario by scenario, and say per pin group whether they behave the same.
 *
 * A session is how a driver is driven: an entry point that acquires (a function of the file
 * nobody in the file calls, or whose address is taken), then, on success, an entry point that
 * releases, with the device using the pages in between. Both versions run the same sessions on
 * the same scenarios; the after run is told every decision the before run made.
 */
import { parseC } from '../parse/kernel-c.ts';
import type { Edit } from '../../transforms/index.ts';
import { timed } from '../timing.ts';
import { EMITTED_NAMES } from '../sites/api.ts';
import { analyze, type FileAnalysis, type PinGroup } from '../sites/groups.ts';
import type { TargetApi } from '../target.ts';
import { CoverageCounter, editedHunks, linesOf, statementsOn, type EditedHunk, type EditedStatement } from './coverage.ts';
import { lowerAnalysed, loweredEdits } from './edited.ts';
import { lowerFile, structPointer, type Func } from './lower.ts';
import { compare, type Outcome } from './outcome.ts';
import { planScenarios, runAfter, runBefore, worldOf, type Scenario } from './scenarios.ts';
import { forgetKept } from './strings.ts';
import type { DivergenceReason, GroupVerification, IntendedDifference, UnverifiableCode } from './verdict.ts';

const MAX_SESSIONS = 6;

/** The file's call graph, from the call sites the site analysis already collected. */
class Program {
  readonly graph = new Map<string, Set<string>>();
  readonly roots: string[];

  constructor(readonly funcs: ReadonlyMap<string, Func>, analysis: FileAnalysis) {
    const called = new Set<string>();
    for (const c of analysis.facts.localCalls) {
      if (c.fn.name === c.callee) continue;
      let out = this.graph.get(c.fn.name);
      if (!out) this.graph.set(c.fn.name, (out = new Set()));
      out.add(c.callee);
      called.add(c.callee);
    }
    // Entry points: what nobody here calls, what is called through a pointer, and what other
    // files can call (siw_umem_release() is called here on an error path, with dirty = false,
    // and by the rest of the driver with whatever it likes).
    const exported = (n: string) => !/^\s*static\b/.test(funcs.get(n)!.text);
    this.roots = [...funcs.keys()].filter((n) => !called.has(n) || analysis.facts.functions.get(n)?.addressTaken || exported(n));
  }

  private readonly reached = new Map<string, ReadonlySet<string>>();

  /** `from` and every function it calls, directly or not. */
  reach(from: string): ReadonlySet<string> {
    const cached = this.reached.get(from);
    if (cached) return cached;
    const seen = new Set([from]);
    const work = [from];
    while (work.length) for (const c of this.graph.get(work.pop()!) ?? []) if (!seen.has(c)) (seen.add(c), work.push(c));
    this.reached.set(from, seen);
    return seen;
  }

  rootsReaching(targets: Set<string>): string[] {
    return this.roots.filter((r) => [...this.reach(r)].some((f) => targets.has(f)));
  }
}

interface Unit {
  group?: PinGroup;
  line: number;
  what: string;
  sessions: string[][];
  acquireName: string;
  /** The file's functions the sessions can run. */
  reached: ReadonlySet<string>;
  /** The statements of the conversion this unit vouches for (set once units are known). */
  edited: EditedStatement[];
}

/** Struct types a function takes (and, with `returned`, gives back). */
function structTypes(fn: Func | undefined, returned: boolean): Set<string> {
  const types = (fn?.params ?? []).map((p) => structPointer(p.type));
  if (returned && fn) types.push(structPointer(fn.returnType));
  return new Set(types.filter((t): t is string => !!t));
}

/**
 * A release entry point belongs after an acquiring one when it works on objects the acquirer
 * was given or built: `xmr_register()` returns the `struct xmr *` that `xmr_deregister()` takes,
 * and has nothing to do with `xmr_unmap_table(struct xmr_table *)`. A work function or timer
 * callback belongs after an acquirer that queues work or arms a timer: its object is the one
 * queued (the simulator hands it over, see `deferred` in mm-api.ts), whatever the acquirer
 * took. Without any such link, every release entry point is tried.
 */
function releasersFor(p: Program, acquirer: string, releasers: string[]): string[] {
  const made = structTypes(p.funcs.get(acquirer), true);
  const queued = deferredQueued(p, acquirer);
  const linked = releasers.filter((r) => [...structTypes(p.funcs.get(r), false)].some((t) => made.has(t) || queued.has(t)));
  return linked.length ? linked : releasers;
}

/** The callback argument type of each way of deferring work, by the call that queues it. */
const DEFERRED_CALLS: ReadonlyArray<[RegExp, string]> = [
  [/\b(queue_work|queue_work_on|schedule_work|queue_delayed_work|schedule_delayed_work|mod_delayed_work)\s*\(/, 'struct work_struct *'],
  [/\b(mod_timer|add_timer)\s*\(/, 'struct timer_list *'],
];

/** The callback types whose callbacks `acquirer` (or what it calls) queues. */
function deferredQueued(p: Program, acquirer: string): Set<string> {
  const out = new Set<string>();
  for (const f of p.reach(acquirer)) {
    const text = p.funcs.get(f)?.text ?? '';
    for (const [re, type] of DEFERRED_CALLS) if (re.test(text)) out.add(type);
  }
  return out;
}

/**
 * The entry points that build what an acquirer works on: for each struct type it takes, the first
 * one (of those that neither acquire nor release) returning that type. `xdb_alloc_user_db_tab()`
 * allocates the `struct xdb_user_table *` that `xdb_map_user_db()` fills, sized for its entries
 * and with its fields set, as the driver's users get it.
 */
function constructorsFor(p: Program, acquirer: string, busy: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const t of structTypes(p.funcs.get(acquirer), false)) {
    const maker = p.roots.find((r) => !busy.has(r) && structPointer(p.funcs.get(r)!.returnType) === t);
    if (maker && !out.includes(maker)) out.push(maker);
  }
  return out;
}

/**
 * Sessions in an order where the first ones between them run every entry point: only
 * MAX_SESSIONS are run, and in the order they were built vmci's five acquiring entry points
 * would each pair with three releasers and the last three acquirers (the broker's page store
 * and map, whose error paths release dirtied pages) would never run at all. A session that runs
 * an entry point no earlier one ran comes first; the others keep their order after them.
 */
function coveringFirst(sessions: string[][]): string[][] {
  const seen = new Set<string>();
  const first: string[][] = [];
  const rest: string[][] = [];
  for (const s of sessions) {
    if (s.some((e) => !seen.has(e))) {
      for (const e of s) seen.add(e);
      first.push(s);
    } else rest.push(s);
  }
  return [...first, ...rest];
}

function groupUnit(p: Program, g: PinGroup): Unit & { group: PinGroup } {
  const acquirers = p.rootsReaching(new Set(g.acquires.map((a) => a.fn.name)));
  const releasers = p.rootsReaching(new Set(g.releases.map((r) => r.fn.name))).filter((r) => !acquirers.includes(r));
  const busy = new Set([...acquirers, ...releasers]);
  const sessions: string[][] = [];
  for (const a of acquirers) {
    const made = constructorsFor(p, a, busy);
    if (!releasers.length) sessions.push([...made, a]);
    for (const r of releasersFor(p, a, releasers)) sessions.push([...made, a, r]);
  }
  const names = [...new Set(g.acquires.map((a) => `${a.name}()`))].join(', ') || 'no acquire';
  const what = `${names} with ${g.releases.length} release${g.releases.length === 1 ? '' : 's'}`;
  const kept = coveringFirst(sessions).slice(0, MAX_SESSIONS);
  const reached = new Set(kept.flat().flatMap((r) => [...p.reach(r)]));
  return { group: g, line: g.line, what, sessions: kept, acquireName: g.acquires[0]?.name ?? 'GUP', reached, edited: [] };
}

/** A converted text, with the edits that made it from the original when they are known. */
export interface AfterText {
  text: string;
  edits?: readonly Edit[];
}

interface LoweredAfter {
  funcs: Map<string, Func>;
  /**
   * Made from the original's definitions with the edited ones replaced: everything else (the
   * other functions, globals, structs) is lowered from the original's, so a run that enters no
   * edited function runs the same in both versions.
   */
  sharesUnedited: boolean;
}

let lastAfter: { text: string; analysis: FileAnalysis; edits?: readonly Edit[]; lowered: LoweredAfter } | undefined;

/**
 * Lowering of a converted text. The last one is kept: `--explain` asks again for each group of
 * the file just verified.
 */
function lowerAfter(after: AfterText, analysis: FileAnalysis): LoweredAfter {
  if (lastAfter?.text !== after.text || lastAfter.analysis !== analysis || lastAfter.edits !== after.edits) {
    const edited = after.edits && loweredEdits(analysis, after.edits);
    const lowered = edited
      ? { funcs: edited.funcs, sharesUnedited: true }
      : { funcs: lowerFile(timed('parse', () => parseC(after.text)).rootNode), sharesUnedited: false };
    lastAfter = { text: after.text, analysis, edits: after.edits, lowered };
  }
  return lastAfter.lowered;
}

export interface VerifyInput {
  text: string;
  analysis?: FileAnalysis;
}

/**
 * Verify `after` against `before`: one result per pin group of `before` whose code changed,
 * plus one for changed functions no group explains (id -1).
 */
export function verifyTexts(before: string | VerifyInput, after: string | AfterText, api: TargetApi): GroupVerification[] {
  const b = typeof before === 'string' ? { text: before } : before;
  const a = typeof after === 'string' ? { text: after } : after;
  if (b.text === a.text) return [];
  const analysis = b.analysis ?? analyze(b.text, parseC(b.text));
  const beforeFuncs = lowerAnalysed(analysis).funcs;
  const lowered = lowerAfter(a, analysis);
  const afterFuncs = underOriginalNames(beforeFuncs, lowered.funcs);
  const changed = new Set<string>();
  for (const [name, fn] of beforeFuncs) if (afterFuncs.get(name)?.text !== fn.text) changed.add(name);
  for (const name of afterFuncs.keys()) if (!beforeFuncs.has(name)) changed.add(name);
  if (!changed.size) return [];

  const program = new Program(beforeFuncs, analysis);
  const units: Unit[] = [];
  const covered = new Set<string>();
  const groupUnits = analysis.groups.map((g) => groupUnit(program, g));
  for (const unit of groupUnits) {
    if (![...changed].some((c) => unit.reached.has(c))) continue;
    for (const f of unit.reached) covered.add(f);
    units.push(unit);
  }
  const rest = [...changed].filter((c) => !covered.has(c) && beforeFuncs.has(c));
  if (rest.length) {
    const roots = program.rootsReaching(new Set(rest));
    // A callback (its address handed to the kernel: an MMU notifier's invalidate, a work item)
    // runs on what an acquiring entry point set up, after it: each such session too.
    const setups = new Map<string, string[]>();
    for (const { group: g, sessions } of groupUnits)
      for (const s of sessions) {
        // The steps up to the acquire: the constructors and the acquiring entry point.
        const upTo = s.slice(0, g.acquires.length ? s.findIndex((r) => g.acquires.some((a) => program.reach(r).has(a.fn.name))) + 1 : 0);
        if (upTo.length) setups.set(upTo.join(), upTo);
      }
    const acquirers = [...setups.values()];
    const sessions = roots.flatMap((r) =>
      analysis.facts.functions.get(r)?.addressTaken ? [[r], ...acquirers.filter((s) => !s.includes(r)).map((s) => [...s, r])] : [[r]],
    );
    const acquireName = acquirers.length ? (analysis.groups.find((g) => g.acquires.length)?.acquires[0].name ?? 'GUP') : 'GUP';
    const kept = sessions.slice(0, MAX_SESSIONS);
    const reached = new Set(kept.flat().flatMap((r) => [...program.reach(r)]));
    units.push({ line: Math.min(...rest.map((r) => beforeFuncs.get(r)!.line)), what: `changed code outside any pin group: ${rest.map((r) => `${r}()`).join(', ')}`, sessions: kept, acquireName, reached, edited: [] });
  }
  // Edited statements are in changed functions; an unchanged one of the converted version is
  // lowered from the original's definition, on the original's lines.
  const onlyChanged = (funcs: ReadonlyMap<string, Func>) => new Map([...funcs].filter(([n]) => changed.has(n)));
  const [changedBefore, changedAfter] = [onlyChanged(beforeFuncs), onlyChanged(afterFuncs)];
  for (const [unit, hunks] of hunksByUnit(editedHunks(b.text, a.text, a.edits), units, beforeFuncs)) {
    unit.edited = [
      ...statementsOn(changedBefore, linesOf(hunks, 'before'), b.text, 'before'),
      ...statementsOn(changedAfter, linesOf(hunks, 'after'), a.text, 'after'),
    ];
  }
  // The after run of a before run that entered no changed function would repeat it step by step.
  const repeats = (b: Outcome) => lowered.sharesUnedited && ![...b.entered].some((f) => changed.has(f));
  const untouched = new Set([...afterFuncs.keys()].filter((f) => !changed.has(f)));
  // Runs record the edited statements they execute; the lowering is shared, so the marks go
  // again before anything else runs it.
  const watched = units.flatMap((u) => u.edited.map((e) => e.stmt));
  for (const s of watched) s.watched = true;
  try {
    return units.map((u) => verifyUnit(u, beforeFuncs, afterFuncs, api, repeats, untouched)).sort((x, y) => x.line - y.line);
  } finally {
    for (const s of watched) s.watched = false;
    // The runs are gone: what they shared need not outlive them.
    forgetKept();
  }
}

/** Lines of the original a group's acquires and releases take. */
function siteLines(g: PinGroup): Array<[number, number]> {
  return [...g.acquires, ...g.releases].map((c) => [c.call.startPosition.row + 1, c.call.endPosition.row + 1]);
}

/**
 * Which unit vouches for each change: the group whose acquire or release it touches; else the
 * groups with a site in the function it is in (a loop counter's declaration deleted); else the
 * units that run that function at all. A change no unit runs is vouched for by none (it sits
 * outside every function, or in code nothing reaches: "no entry point" says so already).
 */
function hunksByUnit(hunks: EditedHunk[], units: Unit[], funcs: ReadonlyMap<string, Func>): Map<Unit, EditedHunk[]> {
  const out = new Map<Unit, EditedHunk[]>();
  const functionAt = (line: number) => [...funcs.values()].find((f) => f.line <= line && line <= f.end)?.name;
  const sitesIn = (u: Unit, name: string) => !!u.group && [...u.group.acquires, ...u.group.releases].some((c) => c.fn.name === name);
  for (const h of hunks) {
    const [from, to] = h.before ?? [h.anchor, h.anchor];
    let owners = units.filter((u) => u.group && siteLines(u.group).some(([a, b]) => a <= to && from <= b));
    const fn = functionAt(h.anchor);
    if (!owners.length && fn) owners = units.filter((u) => sitesIn(u, fn));
    if (!owners.length && fn) owners = units.filter((u) => u.reached.has(fn));
    for (const u of owners) {
      const list = out.get(u);
      if (list) list.push(h);
      else out.set(u, [h]);
    }
  }
  return out;
}

/**
 * The converted file's functions under their names in the original: a local function the
 * conversion renamed out of the API's way (`pin_user_pages()` → `foo_dev_pin_user_pages()`, H14,
 * src/plan/rename.ts) is the same entry point. Its callers' calls already link to it by its new
 * name, and a call of the old name is the kernel's API.
 */
function underOriginalNames(before: ReadonlyMap<string, Func>, after: Map<string, Func>): Map<string, Func> {
  let out: Map<string, Func> | undefined;
  for (const name of before.keys()) {
    if (after.has(name) || !EMITTED_NAMES.has(name)) continue;
    const renamed = new RegExp(`^\\w+_${name}\\d*$`);
    const to = [...after.keys()].filter((n) => !before.has(n) && renamed.test(n));
    if (to.length !== 1) continue;
    out ??= new Map(after);
    out.set(name, after.get(to[0])!);
    out.delete(to[0]);
  }
  return out ?? after;
}

const TRACE_LINES = 10;

/** Which divergence to report when several scenarios diverge: the most specific first. */
const PRIORITY: Record<DivergenceReason, number> = {
  'put-on-pinned': 0, 'unpin-not-pinned': 1, 'over-release': 2, 'use-after-release': 3, 'sleep-in-atomic': 4,
  leak: 5, dirty: 6, 'not-pinned': 7, memory: 8, return: 9, calls: 10, fault: 11,
};

/** Runs are deterministic: the same world and the same answers make the same run. */
function runIdentity(s: Scenario, o: Outcome): string {
  const world = worldOf(s);
  const answers = o.decisionOrder.map((k) => (o.decisions.get(k) ? '+' : '-') + k).join('\u0000');
  return `${world}\u0001${answers}\u0001${[...o.indices].join()}`;
}

function verifyUnit(
  unit: Unit,
  beforeFuncs: ReadonlyMap<string, Func>,
  afterFuncs: ReadonlyMap<string, Func>,
  api: TargetApi,
  repeats: (b: Outcome) => boolean,
  untouched: ReadonlySet<string>,
): GroupVerification {
  const result: GroupVerification = { group: unit.group?.id ?? -1, line: unit.line, what: unit.what, verdict: 'equivalent', differences: [], scenarios: 0 };
  const unverifiable = (code: UnverifiableCode, reason: string): GroupVerification => ({ ...result, verdict: 'unverifiable', code, reason: `${code}: ${reason}` });
  if (!unit.sessions.length) return unverifiable('no-entry', 'no entry point of the file reaches this code');
  const acquires = unit.group?.acquires ?? [];
  const coverage = new CoverageCounter(unit.edited, acquires.length > 0, acquires.length > 0 && acquires.every((x) => x.layout.variant.includes('fast_only')));
  const entered = { before: new Map<string, number>(), after: new Map<string, number>() };
  const differences = new Set<IntendedDifference>();
  let reachedAcquire = false;
  let worst: GroupVerification | undefined;
  let faulted: ModelFault | undefined;
  for (const steps of unit.sessions) {
    const missing = steps.find((s) => !afterFuncs.has(s));
    if (missing) return unverifiable('no-entry', `${missing}() is gone in the new version`);
    const plan = planScenarios(beforeFuncs, steps, api, unit.acquireName);
    if (!plan.noAcquire) reachedAcquire = true;
    const compared = new Set<string>();
    for (const s of plan.scenarios) {
      const b = plan.runs.get(s);
      result.scenarios++;
      // Flips the run never reached leave it identical to one already compared.
      const id = runIdentity(s, b);
      if (compared.has(id)) continue;
      compared.add(id);
      const a = repeats(b) ? b : runAfter(afterFuncs, steps, s, api, b, untouched);
      const c = compare(b, a);
      if (c.unsupported) return unverifiable('unmodelled', `the simulator does not model ${c.unsupported}`);
      coverage.add(b, a);
      for (const [side, run] of [['before', b], ['after', a]] as const) for (const f of run.entered) entered[side].set(f, (entered[side].get(f) ?? 0) + 1);
      for (const d of c.differences) differences.add(d);
      if (c.modelFault) faulted ??= { detail: c.modelFault, scenario: `${steps.join('() then ')}(): ${s.label}`, before: b.log.slice(-TRACE_LINES), after: a.log.slice(-TRACE_LINES) };
      // Keep looking: a divergence on pages the run knows names the mistake better than one
      // on pages of unknown origin.
      if (c.divergence && (!worst || PRIORITY[c.divergence.reason] < PRIORITY[worst.divergence!.reason])) {
        worst = {
          ...result,
          verdict: 'not-equivalent',
          divergence: {
            ...c.divergence,
            scenario: `${steps.join('() then ')}(): ${s.label}`,
            before: b.log.slice(-TRACE_LINES),
            after: a.log.slice(-TRACE_LINES),
          },
        };
      }
    }
  }
  result.coverage = coverage.result();
  if (worst) return { ...worst, scenarios: result.scenarios, coverage: result.coverage };
  if (unit.group?.acquires.length && !reachedAcquire)
    return unverifiable('not-reached', `no scenario reaches ${unit.acquireName}() from an entry point of the file`);
  // Where both runs stopped at corresponding calls, the code after was compared in no run.
  if (faulted) return modelFaulted(result, faulted);
  const gaps = coverage.gaps((fn, side) => entered[side].get(fn) ?? 0);
  if (gaps) return unverifiable('not-reached', gaps);
  result.differences = [...differences].sort();
  if (differences.size) result.verdict = 'intended';
  return result;
}

interface ModelFault {
  detail: string;
  scenario: string;
  before: string[];
  after: string[];
}

/**
 * Nothing diverged, but in one scenario both runs stopped at corresponding calls: what came after
 * was never compared, so the group is not proven. Both traces go to the reader.
 */
function modelFaulted(result: GroupVerification, f: ModelFault): GroupVerification {
  const { detail, ...faults } = f;
  return { ...result, verdict: 'unverifiable', code: 'model-fault', reason: `model-fault: ${detail}`, faults };
}

/** The motivating story for one group: file-backed pages written back while the device writes. */
export interface Story {
  scenario: string;
  before: string[];
  after: string[];
}

export function explain(before: string | VerifyInput, after: string | AfterText, api: TargetApi, groupId: number): Story | undefined {
  const b = typeof before === 'string' ? { text: before } : before;
  const analysis = b.analysis ?? analyze(b.text, parseC(b.text));
  const g = analysis.groups.find((x) => x.id === groupId);
  if (!g) return undefined;
  const beforeFuncs = lowerAnalysed(analysis).funcs;
  const afterFuncs = underOriginalNames(beforeFuncs, lowerAfter(typeof after === 'string' ? { text: after } : after, analysis).funcs);
  const unit = groupUnit(new Program(beforeFuncs, analysis), g);
  for (const steps of unit.sessions) {
    const plan = planScenarios(beforeFuncs, steps, api, unit.acquireName);
    const writeback = plan.scenarios.find((s) => s.writeback);
    if (!writeback) continue;
    // The writeback scenario, then with each flip of the happy path: the story is best told by
    // a run whose release dirties the pages.
    const flipped = plan.scenarios
      .filter((s) => s.mode === 'full' && s.n === 3 && !s.folioOrder && !s.zeroPage && !s.writeback && s.flips.length > writeback.flips.length)
      .map((s) => ({ ...writeback, flips: s.flips, label: `${writeback.label}${s.label.slice(s.label.indexOf(', with'))}` }));
    let chosen: { s: Scenario; b: Outcome; a: Outcome } | undefined;
    for (const s of [writeback, ...flipped]) {
      const before = runBefore(beforeFuncs, steps, s, api);
      const run = { s, b: before, a: runAfter(afterFuncs, steps, s, api, before) };
      chosen ??= run;
      if (before.folios.some((f) => f.dirtyLog.length)) {
        chosen = run;
        break;
      }
    }
    return { scenario: `${steps.join('() then ')}(): ${chosen!.s.label}`, before: story(chosen!.b), after: story(chosen!.a) };
  }
  return undefined;
}

/** The first page's part of a run: the story is the same for every page. */
function story(o: Outcome): string[] {
  return o.log.filter((l) => !/^\s*the device uses/.test(l) && !/\(&/.test(l) && (/\bP0\b/.test(l) || !/\bP\d+\b/.test(l)));
}
