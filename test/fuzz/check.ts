/**
 * One fuzz input through what the CLI does with a file — `diff`/`apply`/`scan` (plan with the
 * simulator, report, diff) and `verify` (plan without it, then the simulator's verdict and
 * story on each changed group) — and the invariants on every output: no exception, no byte
 * changed outside the reported edits, an output that parses no worse than the input, all within
 * a per-input time budget.
 *
 * The pipeline is synchronous: a hang (a loop the simulator's step limit does not bound, in the
 * analysis say) cannot be interrupted in the thread it runs in. So `Checker` runs it in a child
 * process and, when no answer comes within the hang limit, kills it, records a hang and starts
 * a new one. Not a worker thread: terminating one inside tree-sitter's native code aborts the
 * whole process (a Napi::Error thrown during teardown).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { unifiedDiff } from '../../src/emit/diff.ts';
import { fileReport, reportJson, reportLines } from '../../src/emit/report.ts';
import { storyLines, verdictLines } from '../../src/emit/verdicts.ts';
import { planFile, type FilePlan } from '../../src/plan/plan.ts';
import { processText } from '../../src/run.ts';
import { checkConversion as simulate } from '../../src/sim/index.ts';
import { apiFor, parseVersion, type TargetApi } from '../../src/target.ts';
import { checkConversion, editedLowering } from '../invariants.ts';
import { fuzzCase, mutate, type FuzzCase } from './mutators.ts';

/**
 * Per input and command, for the work the CLI does (not the invariant checks). The slowest inputs
 * known, loops that run away in ~100 scenarios (10,000 simulator steps each), take up to ~2 s on
 * a busy 2-core machine; the rest take milliseconds.
 */
export const BUDGET_MS = 5000;
/** No answer after this long is a hang: the child is killed. */
export const HANG_MS = 20000;

export interface Outcome {
  /** Time the CLI's work took (ms): the slower of diff's and verify's. */
  ms: number;
  /** Groups converted by diff/apply. */
  converted: number;
  /** Diagnostic codes of the refused groups (each code once per group). */
  refusals: string[];
  failure?: string;
}

const DISPLAY = 'drivers/fuzz/fuzz.c';

/** The invariants on one plan of `text`; `what` names the command whose output it is. */
function invariants(text: string, plan: FilePlan, what: string): string | undefined {
  const broken = checkConversion(text, plan.output, plan.edits);
  return broken && `${what}: ${broken}`;
}

/**
 * What the CLI does with `text`: diff/apply/scan's work, then verify's; their plans, and the
 * time the slower of the two took (the budget is per command, as a user runs one).
 */
function cliWork(text: string, api: TargetApi) {
  const policy = { core: false };
  const start = performance.now();
  // diff / apply / scan: verified plan, scan lines, --json, the diff.
  const { plan, verification, analysis } = processText(text, api, policy, { verify: true });
  const report = fileReport(DISPLAY, plan, verification);
  reportLines(report);
  JSON.stringify(reportJson([report], api));
  if (plan.output !== text) unifiedDiff(DISPLAY, text, plan.output);
  const middle = performance.now();
  // verify: the plan without the simulator, then its verdict (and --explain story) per group
  // (the analysis is reused: verify's own parse and analysis are the ones timed above).
  const unverified = planFile(analysis, api, policy);
  for (const c of simulate({ text, analysis }, { text: unverified.output, edits: unverified.edits }, api, true)) {
    verdictLines(DISPLAY, c.verification);
    if (c.story) storyLines(c.story);
  }
  return { plan, unverified, analysis, ms: Math.max(middle - start, performance.now() - middle) };
}

/** Runs `text` through the CLI's pipeline for `target` in this thread. */
export function checkText(text: string, target: string): Outcome {
  const api = apiFor(parseVersion(target));
  const start = performance.now();
  try {
    const { plan, unverified, analysis, ms: once } = cliWork(text, api);
    // Over budget once may be the machine (a GC, other processes on 2 cores): the best of two counts.
    const ms = once > BUDGET_MS ? Math.min(once, cliWork(text, api).ms) : once;
    const refusals = plan.groups.filter((g) => g.verdict === 'refused').flatMap((g) => [...new Set(g.diagnostics.map((d) => d.code))]);
    const outcome: Outcome = { ms, converted: plan.groups.filter((g) => g.verdict === 'converted').length, refusals };
    const failure =
      invariants(text, plan, 'diff') ??
      invariants(text, unverified, 'verify (unverified plan)') ??
      (unverified.output !== text ? editedLowering(analysis, unverified.output, unverified.edits) : undefined);
    if (failure) return { ...outcome, failure };
    if (ms > BUDGET_MS) return { ...outcome, failure: `took ${Math.round(ms)} ms, over the ${BUDGET_MS} ms budget` };
    return outcome;
  } catch (e) {
    return { ms: performance.now() - start, converted: 0, refusals: [], failure: `exception: ${(e as Error)?.stack ?? e}` };
  }
}

/** `checkText` in a child process, with a hang limit. One input at a time. */
export class Checker {
  private child?: Promise<ChildProcess>;

  constructor(private readonly hangMs = HANG_MS) {}

  private start(): Promise<ChildProcess> {
    // From the package root, where `--import tsx` resolves.
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const child = fork(fileURLToPath(new URL('./worker.ts', import.meta.url)), [], { cwd: root, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    // The hang clock starts once the child has loaded the sources (a second or two with tsx).
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve(child));
      child.once('exit', (code) => reject(new Error(`the fuzz child exited (code ${code}) before it was ready`)));
    });
  }

  async check(text: string, target: string, hangMs = this.hangMs): Promise<Outcome> {
    const child = await (this.child ??= this.start());
    return new Promise((resolve) => {
      const settle = (o: Outcome) => {
        clearTimeout(timer);
        child.removeAllListeners('message').removeAllListeners('exit');
        resolve(o);
      };
      const lost = (failure: string) => {
        this.child = undefined;
        child.kill('SIGKILL');
        settle({ ms: hangMs, converted: 0, refusals: [], failure });
      };
      const timer = setTimeout(() => lost(`hang: no result within ${hangMs} ms`), hangMs);
      child.once('message', (o) => settle(o as Outcome));
      child.once('exit', (code, signal) => lost(`the fuzz child died (${signal ?? `exit code ${code}`})`));
      child.send({ text, target });
    });
  }

  async close(): Promise<void> {
    const pending = this.child;
    this.child = undefined;
    const child = await pending;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.disconnect();
    await exited;
  }
}

/** Figures of a fuzz run. */
export class Tally {
  inputs = 0;
  converting = 0;
  readonly refusals = new Map<string, number>();
  readonly times: number[] = [];
  readonly failures: Array<{ index: number; input: FuzzCase; failure: string }> = [];

  add(index: number, input: FuzzCase, o: Outcome): void {
    this.inputs++;
    if (o.converted) this.converting++;
    for (const code of o.refusals) this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
    this.times.push(o.ms);
    if (o.failure) this.failures.push({ index, input, failure: o.failure });
  }

  lines(): string[] {
    const t = [...this.times].sort((a, b) => a - b);
    const ms = (x: number | undefined) => `${(x ?? 0).toFixed(1)} ms`;
    const codes = [...this.refusals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    return [
      `inputs: ${this.inputs}`,
      `inputs with conversions: ${this.converting}`,
      `refusals by code (groups): ${codes.map(([c, n]) => `${c} ${n}`).join(', ') || 'none'}`,
      `per-input time: median ${ms(t[t.length >> 1])}, max ${ms(t.at(-1))} (budget ${BUDGET_MS} ms)`,
      `failures: ${this.failures.length}`,
    ];
  }
}

/**
 * The fuzz property: each case's input through the checker, its outcome to `seen`. `strict`
 * fails the case on a broken invariant (so fast-check shrinks it); otherwise the failure is only
 * recorded and the run goes on, to count every failure of a long run.
 */
export function fuzzProperty(checker: Checker, fixtures: Record<string, string>, targets: string[], seen: (input: FuzzCase, o: Outcome) => void, strict = true) {
  return fc.asyncProperty(fuzzCase(Object.keys(fixtures), targets), async (input) => {
    const o = await checker.check(mutate(fixtures, input), input.target);
    seen(input, o);
    if (strict && o.failure) throw new Error(o.failure);
  });
}
