/**
 * The runner: paths → per-file results. One file's work (read, prefilter, parse, analyse, plan,
 * verify) is `processFile`, pure after the read and self-contained, so the pool can hand files
 * to worker threads; diff/apply/scan/verify are views of the records it returns.
 */
import { isUtf8 } from 'node:buffer';
import { statSync, type Stats } from 'node:fs';
import { relative, resolve } from 'node:path';
import { DirIndex } from './cache/dir-index.ts';
import { FileIndex, SlotView, type IndexSlots } from './cache/file-index.ts';
import { entryKey, readEntry, resultCacheJob, trimEntries, writeEntry, type CacheLocation, type ResultCacheJob } from './cache/results.ts';
import { CANDIDATE_BYTES, readBytes, readIfHolds } from './discover/prefilter.ts';
import { callsApi, cannot, walk, type WalkProblem } from './discover/walk.ts';
import { CANDIDATE_RE, GET_ACQUIRE_RE } from './sites/api.ts';
import { finishJournal } from './emit/apply.ts';
import { Progress } from './emit/progress.ts';
import { EarlyUnits, linkResults, type LinkContext, type LinkedResult } from './link/link.ts';
import { exportedHelpers, headerEscapes, linkNeeds } from './link/needs.ts';
import { analysedEmpty, setAside, stillNeeded, type SetAside } from './link/scope.ts';
import { fileReport } from './emit/report.ts';
import { DEFER, Pool } from './parallel/pool.ts';
import { normalise, restore, type Normalised } from './parse/endings.ts';
import { parseC } from './parse/kernel-c.ts';
import { planFile, withForced, type FilePlan, type Policy } from './plan/plan.ts';
import type { GroupVerification } from './sim/verdict.ts';
import { checkConversion, planVerified } from './sim/index.ts';
import { analyze, type FileAnalysis, type Part } from './sites/groups.ts';
import type { TargetApi } from './target.ts';
import { STAGES, addTimes, emptyTimes, threadTimes, timed, type StageTimes } from './timing.ts';

export type FileResult = LinkedResult;

export interface RunResult {
  files: FileResult[];
  problems: WalkProblem[];
  /** Files an interrupted apply had left half-renamed, finished before this run (display paths). */
  finished: string[];
  /** `convertOnly`: candidate files not analysed, as nothing in them can convert (else undefined). */
  setAside?: number;
  /** Time per stage, summed over threads (milliseconds). */
  times: StageTimes;
  /** Threads that worked on files (this one included). */
  threads: number;
}

const MAX_BYTES = 8 << 20;

/**
 * Worker threads pay for their start-up and JIT warm-up (~0.5 s of CPU each) only on a run this
 * big: on 2 cores, the 130 fixture files (1 s of work) take longer with a second thread.
 */
const THREADS_FROM_FILES = 2000;

export interface RunOptions {
  /** Convert core-kernel users too (H9): off by default. */
  core?: boolean;
  /** Simulate every conversion and refuse those that are not equivalent: on by default. */
  verify?: boolean;
  /** `verify`: plan without the simulator, then report its verdict on each changed group. */
  check?: { explain: boolean };
  /** `diff`, `apply`: analyse only the files whose groups can convert, and those linking may join with them (link/scope.ts). */
  convertOnly?: boolean;
  /** Threads working on files (1: all in this thread). */
  jobs?: number;
  /** Where to draw a progress line (a terminal), if anywhere. */
  progress?: NodeJS.WriteStream;
  /** Keep each file's result there, and take it from there while the file is unchanged. */
  cache?: CacheLocation;
  /** `apply`: finish the renames of an interrupted apply (its journal) before anything else. */
  finish?: boolean;
}

/** What a worker needs besides the file: plain data, sent once per worker. */
export interface FileJob {
  api: TargetApi;
  /** What paths are shown relative to (--root). */
  root: string;
  options: Omit<RunOptions, 'jobs' | 'progress' | 'cache'>;
  cache?: ResultCacheJob;
}

/** One file's outcome: a result, a problem to report, a candidate set aside (`convertOnly`), or nothing (not a candidate). */
export type FileOutcome = { result: FileResult } | { problem: WalkProblem } | { aside: SetAside } | null;

/**
 * Core kernel code (mm/, kernel/, fs/, ipc/, security/, lib/) that upstream deliberately left on
 * FOLL_GET — futex, uprobes, exec, __access_remote_vm, the iov_iter pages of direct I/O (moved to
 * pins by a redesign, iov_iter_extract_pages(), not a rewrite) — is a policy decision, not a
 * mechanical one (H9): it converts only with --core.
 */
const CORE_DIR_RE = /(^|[/\\])(mm|kernel|fs|ipc|security|lib)[/\\]/;

/** Core kernel code, converted only with --core. */
const isCore = (display: string, options: RunOptions) => !options.core && CORE_DIR_RE.test(display);

export async function run(paths: string[], api: TargetApi, root: string, options: RunOptions = {}): Promise<RunResult> {
  const before = { ...threadTimes };
  // Paths found in the trees are shown relative to --root, in diffs, reports and problem lines.
  const shown = (path: string) => shownFrom(root, path);
  const { jobs = 1, progress, cache, finish, ...fileOptions } = options;
  // The result cache is shared with runs that analyse every file: a result does not depend on it.
  const { convertOnly, ...resultOptions } = fileOptions;
  const job: FileJob = { api, root, options: fileOptions, cache: resultCacheJob(cache, [api, resultOptions]) };
  const pool = new Pool<string, NonNullable<FileOutcome>>(jobs - 1, job);
  const given = paths.map((p) => resolve(p));
  // With the result cache, files known to be no candidates are only stat'ed, not read.
  const index = job.cache && FileIndex.load(job.cache, given);
  // With it, directories unchanged since the last run are not listed again.
  const dirs = job.cache && DirIndex.load(job.cache, given);
  let walked: ReturnType<typeof walk>;
  let finished: string[] = [];
  let mapped: Awaited<ReturnType<typeof pool.map>>;
  let linking: LinkContext;
  try {
    // Threads start as soon as the walk has seen enough files, and load while it goes on.
    walked = timed('walk', () => walk(paths, { show: shown, onFile: (count) => count === THREADS_FROM_FILES && pool.start(), dirs }));
    if (dirs) timed('walk', () => dirs.save());
    finished = interrupted(walked, shown, !!finish);
    const slots = index?.slots(walked.files);
    linking = linkContext(given, walked.files, shown, job);
    // With threads, a unit is worked out as soon as its open file's result comes (see EarlyUnits).
    if (pool.started) linking.early = new EarlyUnits(linking, emptyResult);
    mapped = await processAll(pool, walked.files, job, slots, linking.early, progress && new Progress(progress, walked.files.length));
    if (slots) timed('walk', () => index!.save(walked.files, slots));
  } finally {
    pool.close();
  }
  let results: FileResult[] = [];
  const { problems } = walked;
  const aside: SetAside[] = [];
  const take = (o: FileOutcome) => {
    if (!o) return;
    if ('problem' in o) problems.push(o.problem);
    else if ('aside' in o) aside.push(o.aside);
    else results.push(o.result);
  };
  for (const o of mapped.outcomes) take(o);
  // The files set aside that linking can join with a converting one after all, in this thread.
  const needed = stillNeeded(aside, results);
  if (needed.length) {
    const all: FileJob = { ...job, options: resultOptions };
    for (const a of needed) take(processFile(a.path, all));
    results.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
  if (job.cache) trimEntries(job.cache);
  const linked = linkResults(results, linking!, emptyResult);
  results = linked.results;
  problems.push(...linked.problems);
  const times = emptyTimes();
  for (const stage of STAGES) times[stage] = threadTimes[stage] - before[stage];
  for (const t of mapped.summaries) addTimes(times, t as StageTimes);
  return { files: results, problems, finished, setAside: convertOnly ? aside.length - needed.length : undefined, times, threads: mapped.threads };
}

/**
 * Journals of an apply interrupted among the renames of one linked unit: finished first (`apply`),
 * so the run sees the whole group converted, or else named as a problem.
 */
function interrupted(walked: ReturnType<typeof walk>, shown: (path: string) => string, finish: boolean): string[] {
  const done: string[] = [];
  for (const journal of walked.journals) {
    if (!finish) {
      walked.problems.push({ path: shown(journal), reason: 'an interrupted gup2pin apply left this journal: run apply again to finish it' });
      continue;
    }
    try {
      done.push(...finishJournal(journal).map(shown));
    } catch (e) {
      walked.problems.push({ path: shown(journal), reason: `cannot finish the interrupted apply: ${(e as Error).message}` });
    }
  }
  return done;
}

/** Every file through the pool, with the progress line fed as outcomes arrive. */
async function processAll(
  pool: Pool<string, NonNullable<FileOutcome>>,
  paths: string[],
  job: FileJob,
  slots: IndexSlots | undefined,
  early: EarlyUnits | undefined,
  progress: Progress | undefined,
) {
  const counts = { matched: 0, groups: 0 };
  const view = slots && new SlotView(slots);
  const mapped = await pool.map(paths, (path, i) => processFile(path, job, i, view), slots, {
    outcome: (o) => {
      if (!('result' in o)) return;
      counts.matched++;
      counts.groups += o.result.groups.length;
      early?.add(o.result);
    },
    tick: (claimed) => progress?.update({ ...counts, scanned: claimed }),
  });
  progress?.clear();
  return mapped;
}

/** A file with nothing of its own to report, that a linked unit gives a result. */
const emptyResult = (path: string, display: string): FileResult => ({ path, display, original: '', output: '', groups: [], notGup: [], verification: new Map() });

/**
 * A path as shown to the user: relative to --root. Worked out only for the files that have
 * something to say (a few hundred of a tree's 55,000).
 */
const shownFrom = (root: string, path: string) => relative(root, path) || path;

/**
 * The text of a file worth parsing, or why not: nothing to say (null), or a problem. With
 * `convertible`, only a file with something to convert is worth it.
 */
function readCandidate(path: string, display: () => string, convertible: boolean, i: number, index: SlotView | undefined): Normalised | FileOutcome {
  const skip = (reason: string) => ({ problem: { path: display(), reason } });
  try {
    if (index?.known(i)) {
      const st = statSync(path, { throwIfNoEntry: false });
      if (st && index.unchanged(i, st)) return null;
    }
    // A byte search (no decoding) drops almost every file of a tree before the regular
    // expression sees it.
    let opened: Stats | undefined;
    // No candidate whatever the options: the index may keep it, with its stat from before the read.
    const none = () => {
      if (opened) index!.record(i, opened);
      return null;
    };
    const buf = readIfHolds(path, CANDIDATE_BYTES, index && ((st) => (opened = st)));
    if (!buf) return none();
    const unusable = unusableBytes(buf);
    // Generated register headers are huge and never call GUP: only mention real candidates.
    if (unusable) return isCandidate(path, buf.toString('latin1')) ? skip(unusable) : none();
    // Judged as it will be analysed: a CRLF file exactly as its LF twin.
    const normalised = normalise(buf.toString('utf8'));
    const { text } = normalised;
    if (!isCandidate(path, text)) return none();
    if (convertible && !GET_ACQUIRE_RE.test(text)) return null;
    return normalised;
  } catch (e) {
    return skip(cannot('read', e));
  }
}

/** Why these bytes cannot be converted and written back as they are, if they cannot. */
function unusableBytes(buf: Buffer): string | undefined {
  if (buf.length > MAX_BYTES) return `larger than ${MAX_BYTES >> 20} MiB: skipped`;
  if (buf.includes(0)) return 'binary file (NUL bytes): skipped';
  // Decoding would turn each invalid byte into U+FFFD, and writing back would corrupt the file.
  if (!isUtf8(buf)) return 'not valid UTF-8: skipped';
  return undefined;
}

/** The text of a file a linked unit needs (its bytes if read already), or why it cannot be used. */
function readUsable(path: string, display: string, bytes?: Buffer): string | WalkProblem {
  try {
    const buf = bytes ?? readBytes(path);
    const unusable = unusableBytes(buf);
    if (unusable) return { path: display, reason: unusable };
    return buf.toString('utf8');
  } catch (e) {
    return { path: display, reason: cannot('read', e) };
  }
}

/** `given`: the paths of the run, absolute. */
function linkContext(given: string[], walked: string[], shown: (path: string) => string, { api, options, cache }: FileJob): LinkContext {
  // The files of open files' directories: searched as each open file's result comes and again
  // when the run links, and read as text when they match; read once.
  const near = new Map<string, Buffer | undefined>();
  const bytes = (path: string) => {
    try {
      return readBytes(path);
    } catch {
      return undefined;
    }
  };
  return {
    walked,
    cache,
    paths: given,
    shown,
    analyze: analyzeText,
    policy: (display) => ({ core: isCore(display, options), file: display }),
    verify: options.verify ?? true,
    check: options.check,
    api,
    bytes: (path, keep) => {
      if (near.has(path)) return near.get(path);
      const b = bytes(path);
      if (keep) near.set(path, b);
      return b;
    },
    read: (path, display) => readUsable(path, display, near.get(path)),
  };
}

/** Whether the API is called in code: in a header, only an inline function's call matters, not a prototype. */
const isCandidate = (path: string, text: string) => CANDIDATE_RE.test(text) && callsApi(text, path.endsWith('.h'));

/**
 * Read one file and, if it is a candidate, plan (and verify) its conversion. `i` is its place in
 * the run's files, where `index` keeps what is known of it. With `handBack` (a worker thread), a
 * candidate that needs analysing, not just taking from the result cache, is handed back (DEFER)
 * for the main thread to process; a few dozen files of a tree are read twice for it.
 */
export function processFile(path: string, job: FileJob, i?: number, index?: SlotView): FileOutcome;
export function processFile(path: string, job: FileJob, i: number, index: SlotView | undefined, handBack: boolean): FileOutcome | typeof DEFER;
export function processFile(path: string, job: FileJob, i = -1, index?: SlotView, handBack = false): FileOutcome | typeof DEFER {
  // `verify` reports on conversions only: a file with none is not even parsed.
  const read = timed('read', () => readCandidate(path, () => shownFrom(job.root, path), !!job.options.check, i, index));
  if (!read || !('raw' in read)) return read;
  const display = shownFrom(job.root, path);
  if (job.options.convertOnly) {
    const aside = setAside(path, read.text, isCore(display, job.options));
    if (aside) return { aside };
    const outcome = analysedCandidate(path, display, read, job, handBack);
    if (outcome === DEFER) return outcome;
    return outcome ?? { aside: analysedEmpty(path, GET_ACQUIRE_RE.test(read.text)) };
  }
  return analysedCandidate(path, display, read, job, handBack);
}

/** A candidate's outcome, from the result cache while its bytes are unchanged, else worked out and kept. */
function analysedCandidate(path: string, display: string, read: Normalised, job: FileJob, handBack: boolean): FileOutcome | typeof DEFER {
  const { raw } = read;
  const cache = job.cache;
  if (!cache) return handBack ? DEFER : processCandidate(path, display, read, job);
  // Keyed on the raw text: an LF file and its CRLF twin have different outputs.
  const key = entryKey(cache, display, raw);
  const kept = timed('read', () => readEntry<FileOutcome>(cache, key));
  // The same display path can name another file under another --root: the path is this one.
  // The original text is the one just read (it is part of the key), so it is not kept twice.
  if (kept !== undefined) return kept && 'result' in kept ? { result: { ...kept.result, path, original: raw } } : kept;
  if (handBack) return DEFER;
  const outcome = processCandidate(path, display, read, job);
  // An internal error is not kept: the next run says it again, from the code.
  if (!(outcome && 'problem' in outcome)) writeEntry(cache, key, outcome && { result: { ...outcome.result, original: '' } });
  return outcome;
}

/**
 * The file's text is analysed with its line endings normalised (a CRLF file reads as LF); its
 * result holds the raw text and the output with each line's ending restored, so diff, apply and
 * series work on the bytes of the file.
 */
function processCandidate(path: string, display: string, normalised: Normalised, { api, options }: FileJob): Exclude<FileOutcome, { aside: SetAside }> {
  try {
    const policy = { core: isCore(display, options), file: display };
    const verify = !options.check && (options.verify ?? true);
    const { raw, text } = normalised;
    const { plan, verification, analysis } = processText(text, api, policy, { verify, header: display.endsWith('.h') });
    if (!plan.groups.length && !plan.notGup.length) return null;
    const checks = options.check && timed('verify', () => checkConversion({ text, analysis }, { text: plan.output, edits: plan.edits }, api, options.check!.explain));
    // Core kernel code converts only on request: its helpers (mm/gup.c's own API) are not linked.
    const links = policy.core ? undefined : linkNeeds(analysis);
    const report = fileReport(display, plan, verification, exportedHelpers(analysis));
    const output = restore(normalised, plan.edits, plan.output);
    return { result: { path, original: raw, output, ...report, checks, ...(links && { links }) } };
  } catch (e) {
    // A bug of ours must cost one file, never the run (and never a half-written file).
    return { problem: { path: display, reason: `internal error, file left alone: ${(e as Error).message}` } };
  }
}

/** Parse and analyse one C text. */
export function analyzeText(text: string, parts?: readonly Part[]): FileAnalysis {
  const tree = timed('parse', () => parseC(text));
  return timed('sites', () => analyze(text, tree, parts));
}

export function processText(
  text: string,
  api: TargetApi,
  given: Policy = { core: false },
  options: { verify?: boolean; header?: boolean } = {},
): { plan: FilePlan; verification: Map<number, GroupVerification>; analysis: FileAnalysis } {
  const analysis = analyzeText(text);
  const policy = options.header ? withForced(given, headerEscapes(analysis, () => true)) : given;
  if (options.verify) return { ...timed('verify', () => planVerified(analysis, api, policy)), analysis };
  return { plan: timed('plan', () => planFile(analysis, api, policy)), verification: new Map(), analysis };
}
