/**
 * Where the time goes, per pipeline stage, for `--timings` and the benchmark: exclusive time
 * (a stage nested in another is not counted twice), summed per thread and then over threads.
 */
export const STAGES = ['walk', 'read', 'parse', 'sites', 'plan', 'verify', 'link', 'emit'] as const;
export type Stage = (typeof STAGES)[number];
export type StageTimes = Record<Stage, number>;

export const emptyTimes = (): StageTimes => ({ walk: 0, read: 0, parse: 0, sites: 0, plan: 0, verify: 0, link: 0, emit: 0 });

/** This thread's totals, in milliseconds. */
export const threadTimes: StageTimes = emptyTimes();
let current: Stage | undefined;
let since = 0;

export function timed<T>(stage: Stage, work: () => T): T {
  const start = performance.now();
  const outer = current;
  if (outer) threadTimes[outer] += start - since;
  current = stage;
  since = start;
  try {
    return work();
  } finally {
    const end = performance.now();
    threadTimes[stage] += end - since;
    current = outer;
    since = end;
  }
}

export function addTimes(into: StageTimes, more: StageTimes): StageTimes {
  for (const s of STAGES) into[s] += more[s];
  return into;
}

export const timesLine = (t: StageTimes) => STAGES.map((s) => `${s} ${Math.round(t[s])}`).join(', ');
