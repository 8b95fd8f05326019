/** Command-line front end: argument parsing and output only; the work is in run()/plan. */
import { relative, resolve } from 'node:path';
import yargs from 'yargs';
import { launcherCache } from './cache/results.ts';
import { readFileSync, realpathSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { NotDurable, writeAtomicAll } from './emit/apply.ts';
import { unifiedDiff } from './emit/diff.ts';
import { funcnameRule } from './emit/funcname.ts';
import { closingLine, reportJson, reportLines, summarize, summaryLine } from './emit/report.ts';
import { count, countsLine, emptyCounts, storyLines, verdictLines } from './emit/verdicts.ts';
import { filesFromPatch } from './review/patch.ts';
import { normalise } from './parse/endings.ts';
import { Progress } from './emit/progress.ts';
import { defaultJobs } from './parallel/pool.ts';
import { checkConversion, type Check } from './sim/index.ts';
import { analyzeText, run, type RunOptions, type RunResult } from './run.ts';
import { convertedFileFromReport } from './series/converted.ts';
import { InvalidIdentityError, MissingIdentityError } from './series/identity.ts';
import { buildSeries, SeriesError, writeSeries } from './series/series.ts';
import type { Split } from './series/grouping.ts';
import { nestedKernelHint, rootFor } from './discover/root.ts';
import { TargetError, resolveTarget, versionLabel, type TargetApi } from './target.ts';
import { timesLine } from './timing.ts';

interface Common {
  paths: string[];
  target?: string;
  root?: string;
  quiet: boolean;
  core: boolean;
  verify: boolean;
  jobs: number;
  timings: boolean;
  cache: boolean;
}

/** Each path the run could not use, and why, on stderr (the command then exits 2). */
function reportProblems(problems: Array<{ path: string; reason: string }>): void {
  for (const p of problems) process.stderr.write(`gup2pin: ${p.path}: ${p.reason}\n`);
}

async function execute(argv: Common, extra: Pick<RunOptions, 'check' | 'finish' | 'convertOnly'> = {}): Promise<{ result: RunResult; api: TargetApi; errors: number; root: string }> {
  const api = resolveTarget(argv.target, argv.paths);
  if (!Number.isInteger(argv.jobs) || argv.jobs < 1) throw new UsageError(`--jobs takes a whole number of threads, at least 1 (got ${argv.jobs})`);
  const root = rootFor(argv.root, argv.paths);
  const result = await run(argv.paths, api, root, {
    core: argv.core,
    verify: argv.verify,
    ...extra,
    jobs: argv.jobs,
    progress: Progress.wanted(process.stderr, argv.quiet) ? process.stderr : undefined,
    cache: argv.cache ? launcherCache() : undefined,
  });
  reportProblems(result.problems);
  return { result, api, errors: result.problems.length, root };
}

/** When main() began: the wall time of --timings. */
let started = 0;

/** Output work: the emit stage of --timings. */
function emitting(result: RunResult, work: () => void): void {
  const start = performance.now();
  work();
  result.times.emit += performance.now() - start;
}

/** The closing line: files with pin groups that were not changed are the unchanged ones. */
function closing(result: RunResult, changed: { count: number; as: string }, errors: number): string {
  const unchanged = result.files.filter((f) => f.output === f.original).length;
  return closingLine(summarize(result.files), changed, unchanged, result.setAside, errors, (performance.now() - started) / 1000);
}

/** --timings: where the time went, per stage, summed over the threads. */
function reportTimings(argv: Common, result: RunResult): void {
  const wall = (performance.now() - started) / 1000;
  const over = `${result.threads} thread${result.threads === 1 ? '' : 's'}`;
  if (argv.timings) process.stderr.write(`gup2pin: timings (ms, summed over ${over}): ${timesLine(result.times)}; ${wall.toFixed(2)} s wall\n`);
}

async function diffCommand(argv: Common): Promise<number> {
  const { result, errors, root } = await execute(argv, { convertOnly: true });
  let diffs = 0;
  emitting(result, () => {
    for (const f of result.files) {
      if (f.output === f.original) continue;
      // Hunks named as `git diff` names them in this tree (its .gitattributes: see funcname.ts).
      const d = unifiedDiff(f.display, f.original, f.output, funcnameRule(root, f.display));
      if (d) {
        process.stdout.write(d);
        diffs++;
      }
    }
  });
  const hint = diffs && argv.root === undefined ? nestedKernelHint(root, 'git apply') : undefined;
  if (hint && !argv.quiet) process.stderr.write(`gup2pin: ${hint}\n`);
  if (!argv.quiet) process.stderr.write(`${closing(result, { count: diffs, as: `file${diffs === 1 ? '' : 's'} changed` }, errors)}\n`);
  reportTimings(argv, result);
  return errors ? 2 : diffs ? 1 : 0;
}

async function applyCommand(argv: Common): Promise<number> {
  const run = await execute(argv, { finish: true, convertOnly: true });
  const { result } = run;
  if (!argv.quiet) for (const f of result.finished) process.stdout.write(`converted ${f} (finishing an interrupted apply)\n`);
  const start = performance.now();
  const changed = await writeChanged(result.files, argv.quiet);
  const { errors, signal } = changed;
  const written = changed.written + result.finished.length;
  result.times.emit += performance.now() - start;
  if (signal) process.stderr.write(`gup2pin: ${signal}: stopped between two files, ${written} written; every file is either as it was or fully converted\n`);
  if (!argv.quiet) process.stderr.write(`${closing(result, { count: written, as: 'written' }, run.errors + errors)}\n`);
  reportTimings(argv, result);
  // Like a shell reports a process killed by the signal.
  if (signal) return 128 + osConstants.signals[signal];
  return run.errors + errors ? 2 : 0;
}

/**
 * Writes each changed file atomically, one after another. SIGINT/SIGTERM are caught while it
 * writes (before, the default action is fine: nothing is written yet) and stop it between two
 * files, never inside one, so no temp file is left behind; only SIGKILL can leave one.
 */
async function writeChanged(files: RunResult['files'], quiet: boolean): Promise<{ written: number; errors: number; signal?: 'SIGINT' | 'SIGTERM' }> {
  let signal: 'SIGINT' | 'SIGTERM' | undefined;
  const onInt = () => (signal ??= 'SIGINT');
  const onTerm = () => (signal ??= 'SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  let written = 0;
  let errors = 0;
  // A file reached twice (two PATHs that name it, one through a symlink) is written once: the
  // second time its bytes are no longer the ones read.
  const done = new Set<string>();
  try {
    for (const batch of writeBatches(files)) {
      // The writes are synchronous: a signal's handler runs here, between two files.
      await new Promise(setImmediate);
      if (signal) break;
      const fresh = batch.filter((f) => {
        const real = realpathSync(f.path);
        return !done.has(real) && (done.add(real), true);
      });
      if (!fresh.length) continue;
      try {
        writeAtomicAll(fresh.map((f) => ({ path: f.path, expectedOld: f.original, content: f.output })));
        written += fresh.length;
        if (!quiet) for (const f of fresh) process.stdout.write(`converted ${f.display}\n`);
      } catch (e) {
        errors++;
        if (e instanceof NotDurable) written += fresh.length;
        const names = fresh.map((f) => f.display).join(', ');
        process.stderr.write(`gup2pin: ${names}: ${e instanceof NotDurable ? '' : 'not written: '}${(e as Error).message}\n`);
      }
    }
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  return { written, errors, signal };
}

/**
 * The changed files in writing order, a batch per write: the files of one linked unit (a pin group
 * across files) are written together, every other file alone.
 */
function writeBatches(files: RunResult['files']): Array<RunResult['files']> {
  const batches = new Map<string, RunResult['files']>();
  for (const f of files) {
    if (f.output === f.original) continue;
    const key = f.linked ? `unit:${f.linked.join('\n')}` : `file:${f.path}`;
    (batches.get(key) ?? batches.set(key, []).get(key)!).push(f);
  }
  return [...batches.values()];
}

interface VerifyArgs extends Common {
  before?: string;
  after?: string;
  patch?: string;
  explain: boolean;
}

/** A file named on the command line, or a usage error naming it. */
function readArgument(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Verdicts to print per file: on our own conversions, on two files, or on a patch against a tree. */
async function verifyChecks(argv: VerifyArgs): Promise<{ files: Array<{ display: string; checks: Check[] }>; errors: number; run?: RunResult }> {
  const root = rootFor(argv.root, argv.paths ?? []);
  const check = (display: string, rawBefore: string, rawAfter: string, api: TargetApi) => {
    // Compared as analysed: a CRLF file (or patch against one) reads as LF.
    const [before, after] = [normalise(rawBefore).text, normalise(rawAfter).text];
    return {
      display,
      // --explain simulates each group again: parse and analyse the before text once, not per group.
      checks: checkConversion({ text: before, analysis: argv.explain ? analyzeText(before) : undefined }, after, api, argv.explain),
    };
  };
  if (argv.before || argv.after) {
    if (!argv.before || !argv.after) throw new UsageError('--before and --after go together');
    const api = resolveTarget(argv.target, [argv.after]);
    return { files: [check(argv.after, readArgument(argv.before), readArgument(argv.after), api)], errors: 0 };
  }
  if (argv.patch) {
    const text = readArgument(argv.patch);
    const api = resolveTarget(argv.target, [root]);
    const { files, problems } = filesFromPatch(text, root);
    reportProblems(problems);
    return { files: files.map((f) => check(f.display, f.before, f.after, api)), errors: problems.length };
  }
  if (!argv.paths?.length) throw new UsageError('name PATHs to verify, or --before/--after, or --patch');
  // Our own conversions, before the simulator filters them: verify reports what it would catch.
  const { result, errors } = await execute({ ...argv, verify: false }, { check: { explain: argv.explain } });
  return { files: result.files.map((f) => ({ display: f.display, checks: f.checks ?? [] })), errors, run: result };
}

async function verifyCommand(argv: VerifyArgs): Promise<number> {
  const started = Date.now();
  const { files, errors, run } = await verifyChecks(argv);
  const counts = emptyCounts();
  const print = () => {
    for (const file of files)
      for (const { verification, story } of file.checks) {
        count(counts, verification);
        for (const line of verdictLines(file.display, verification)) process.stdout.write(`${line}\n`);
        if (story) for (const line of storyLines(story)) process.stdout.write(`${line}\n`);
      }
  };
  if (run) emitting(run, print);
  else print();
  if (!argv.quiet) process.stderr.write(`${countsLine(counts)}, ${files.length} file${files.length === 1 ? '' : 's'}, ${Date.now() - started} ms\n`);
  if (run) reportTimings(argv, run);
  return errors ? 2 : counts.notEquivalent ? 1 : 0;
}

interface SeriesArgs extends Common {
  output: string;
  from?: string;
  to: string[];
  cc: string[];
  subjectPrefix: string;
  rerollCount?: number;
  base?: string;
  maintainers?: string;
  coverLetter: boolean;
  split?: Split;
}

async function seriesCommand(argv: SeriesArgs): Promise<number> {
  // Only proven conversions go out to a maintainer; the rest are listed as not converted.
  const { result, api, errors, root } = await execute(argv);
  const files = result.files.map((f) => convertedFileFromReport(f));
  let written: string[];
  try {
    const series = buildSeries(files, {
      target: api,
      root,
      from: argv.from,
      to: argv.to,
      cc: argv.cc,
      subjectPrefix: argv.subjectPrefix,
      version: argv.rerollCount,
      base: argv.base,
      maintainersFile: argv.maintainers,
      coverLetter: argv.coverLetter,
      split: argv.split,
      verified: argv.verify,
    });
    written = series.patches.length ? writeSeries(series, resolve(argv.output)) : [];
  } catch (e) {
    if (e instanceof MissingIdentityError || e instanceof InvalidIdentityError || e instanceof SeriesError) throw new UsageError(e.message);
    throw e;
  }
  // Like git format-patch: the files written, one per line.
  for (const path of written) process.stdout.write(`${relativeToCwd(path)}\n`);
  const hint = written.length && argv.root === undefined ? nestedKernelHint(root, 'git am') : undefined;
  if (hint && !argv.quiet) process.stderr.write(`gup2pin: ${hint}\n`);
  if (!argv.quiet) process.stderr.write(`${closing(result, { count: written.length, as: 'mails written' }, errors)}\n`);
  return errors ? 2 : 0;
}

const relativeToCwd = (path: string) => relative(process.cwd(), path) || path;

async function scanCommand(argv: Common & { json: boolean }): Promise<number> {
  const { result, api, errors } = await execute(argv);
  emitting(result, () => {
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(reportJson(result.files, api), null, 2)}\n`);
    } else {
      for (const f of result.files) for (const line of reportLines(f)) process.stdout.write(`${line}\n`);
      process.stdout.write(`${summaryLine(summarize(result.files))} (target ${versionLabel(api.version)})\n`);
    }
  });
  reportTimings(argv, result);
  return errors ? 2 : 0;
}

export async function main(args: string[]): Promise<number> {
  started = performance.now();
  // `gup2pin diff . | head` closes the pipe early: stop quietly, as diff(1) does.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
  let code = 0;
  const common = (y: ReturnType<typeof yargs>) =>
    y
      .positional('paths', { type: 'string', array: true, demandOption: true, describe: 'files or directories (a kernel tree, a driver directory)' })
      .option('target', { type: 'string', describe: 'kernel version the output must compile on (X.Y, or auto: the tree\'s Makefile, else 6.5)', default: 'auto' })
      .option('root', { type: 'string', describe: 'paths in diffs and reports are relative to this directory', defaultDescription: 'the top of the git checkout or kernel tree holding the PATHs, else the current directory' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no summary on stderr' })
      .option('core', { type: 'boolean', default: false, describe: 'also convert core kernel users (mm/, kernel/, fs/, ipc/, security/, lib/), left on FOLL_GET upstream' })
      .option('verify', { type: 'boolean', default: true, describe: 'simulate each conversion and refuse those not equivalent (--no-verify skips it)' })
      .option('timings', { type: 'boolean', default: false, describe: 'print the time spent per stage (walk, read, parse, sites, plan, verify, emit) on stderr' })
      .option('cache', { type: 'boolean', default: true, describe: 'take the result of a file unchanged since an earlier run from the result cache (--no-cache redoes every file)' })
      .option('jobs', { alias: 'j', type: 'number', default: defaultJobs(), defaultDescription: 'the number of cores', describe: 'threads working on files in runs of 2,000+ files (output is the same for any number)' });
  const parser = yargs(args)
    .scriptName('gup2pin')
    .usage('$0 <command> PATH…\n\nConvert get_user_pages()/put_page() call sites to pin_user_pages()/unpin_user_page*().')
    .command('diff <paths..>', 'print a unified diff of every conversion (exit 1 if any)', common, async (a) => {
      code = await diffCommand(a as unknown as Common);
    })
    .command('apply <paths..>', 'convert in place (atomic per file, idempotent)', common, async (a) => {
      code = await applyCommand(a as unknown as Common);
    })
    .command(
      'series <paths..>',
      'write the conversions as a patch series (git format-patch layout, To/Cc from MAINTAINERS)',
      (y) =>
        common(y)
          .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'directory to write the patches into' })
          .option('from', { type: 'string', describe: 'author and Signed-off-by, "Name <email>" (default: git config user.name/user.email)' })
          .option('to', { type: 'string', array: true, default: [], describe: 'add a To: address to every mail' })
          .option('cc', { type: 'string', array: true, default: [], describe: 'add a Cc: address to every mail' })
          .option('subject-prefix', { type: 'string', default: 'PATCH', describe: 'the [PATCH] part of the subjects' })
          .option('reroll-count', { alias: 'v', type: 'number', describe: 'mark the series as the N-th version ([PATCH vN], vN-0001-…)' })
          .option('base', { type: 'string', describe: 'add a base-commit: trailer for this revision' })
          .option('maintainers', { type: 'string', describe: 'MAINTAINERS file (default: the one at --root)' })
          .option('cover-letter', { type: 'boolean', default: true, describe: 'write 0000-cover-letter.patch (--no-cover-letter skips it)' })
          .option('split', { choices: ['file', 'dir', 'section'] as const, describe: 'one patch per file, directory or MAINTAINERS section (default: section, else dir)' }),
      async (a) => {
        code = await seriesCommand(a as unknown as SeriesArgs);
      },
    )
    .command('scan <paths..>', 'report each pin group: file:line: verdict code: reason', (y) => common(y).option('json', { type: 'boolean', default: false, describe: 'full structure as JSON' }), async (a) => {
      code = await scanCommand(a as unknown as Common & { json: boolean });
    })
    .command(
      'verify [paths..]',
      'simulate before and after of every conversion; print a verdict per pin group (exit 1 if any is not equivalent)',
      (y) =>
        common(y)
          .positional('paths', { type: 'string', array: true, demandOption: false, describe: 'files or directories whose conversions to verify' })
          .option('before', { type: 'string', describe: 'review a conversion: the file before it …' })
          .option('after', { type: 'string', describe: '… and after it' })
          .option('patch', { type: 'string', describe: 'review a conversion patch against the tree at --root' })
          .option('explain', { type: 'boolean', default: false, describe: 'tell the writeback-during-DMA story for each group, before vs after' }),
      async (a) => {
        code = await verifyCommand(a as unknown as VerifyArgs);
      },
    )
    .demandCommand(1, 'name a command: diff, apply, series, scan or verify')
    .strict()
    .help()
    .middleware(skipHelpCache, true)
    .version(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  try {
    await parser.parseAsync();
  } catch (e) {
    if (e instanceof TargetError || e instanceof UsageError) {
      process.stderr.write(`gup2pin: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  return code;
}

class UsageError extends Error {}

/**
 * yargs renders a command's whole help text after running it, in case an async handler asks for
 * it later (ours never do: `.fail` throws). That is ~30 ms of every run; --help still renders it.
 * Internal API, hence the care: if yargs changes, the help is just rendered as before.
 */
function skipHelpCache(_argv: unknown, y?: unknown): void {
  const usage = (y as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: unknown } } } | undefined)?.getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}
