/**
 * Benchmark of issue 18: a cold gup2pin run on a whole Linux tree against the text searches a
 * kernel developer already has (ripgrep, git grep, grep), its warm run, and Coccinelle.
 *
 *   npm run bench -- [TREE] [--subdir DIR]… [--reps N] [--jobs N] [--markdown FILE] [--readme FILE]
 *
 * TREE defaults to ../corpus/linux-source-6.1 beside the checkout, unpacked from Debian's
 * linux-source-6.1 (installed with apt-get) when it is not there; ripgrep, spatch (Debian's
 * coccinelle) and /usr/bin/time (GNU time) are installed the same way when missing. A tool that
 * still is not there is skipped, and so is git grep when TREE is not a git checkout (Debian's
 * tarball is not).
 *
 * For each DIR (default: `.`, the whole tree, then drivers/infiniband; a --subdir replaces both),
 * with the tree's files in the page cache and the commands run in TREE, it times N repetitions
 * (default 5), interleaved, of
 *
 *   gup2pin cold  bin/gup2pin diff --timings --no-cache --jobs J DIR   (every file done again)
 *   gup2pin warm  bin/gup2pin diff --timings --jobs J DIR   (the result cache on, filled first)
 *   ripgrep       rg -l -g '*.c' -e get_user_pages -e pin_user_pages DIR
 *   git grep      git grep -l -e get_user_pages -e pin_user_pages -- '*.c'   ('DIR/*.c' below the top)
 *   grep          grep -rl -e get_user_pages -e pin_user_pages --include='*.c' DIR
 *   spatch        spatch --sp-file test/bench/gup2pin.cocci -D patch --very-quiet --no-includes
 *                        --include-headers --tmp-dir SCRATCH --dir DIR -j J
 *                                                    (the same scope, a syntactic rule)
 *
 * and prints the median, min and max wall time, the CPU time, the peak RSS (from
 * /usr/bin/time -v) and the number of files each changed or listed; the ratios of the median
 * walls, against ripgrep, with the whole tree's targets of issue 18 (cold ≤ 5× ripgrep,
 * warm ≤ 2× ripgrep, peak RSS ≤ 400 MB); gup2pin cold's time per stage (its --timings line);
 * and, for the files spatch changed and gup2pin did not, why gup2pin left them (the diagnostic
 * codes of `gup2pin scan --json` on those files). --markdown FILE also writes it as Markdown;
 * --readme FILE puts that Markdown between the README's <!-- bench:begin --> and
 * <!-- bench:end --> lines.
 *
 * The warm runs must print the cold run's diff byte for byte: the bench stops if they do not.
 * gup2pin runs from its bundle with the result cache allowed (GUP2PIN_NO_CACHE and
 * GUP2PIN_NO_RESULT_CACHE are removed from its environment), as a user runs it.
 *
 * J defaults to the number of cores. gup2pin gets one untimed warm run first (it bundles its
 * sources on the first run after they change, and fills the result cache). Not in `npm test`:
 * vitest only picks up *.test.ts.
 *
 * spatch's options: --very-quiet is what scripts/coccicheck passes; --no-includes and
 * --include-headers are the `// Options:` line of gup2pin.cocci, which coccicheck also passes
 * (the rules need no type information from headers, and .h files with function bodies are
 * searched, as gup2pin does). Its peak RSS is that of its largest process (getrusage of the
 * children): with -j J, its J workers each hold about that much.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CommandFailed, GNU_TIME, median, summarizeSamples, timedRun, type Command, type Sample } from './measure.ts';
import { CACHE_TRIES, cacheFingerprint, gup2pinCacheDir } from './caches.ts';
import { checkReadme, ReadmeMarkersError, updateReadme } from './readme.ts';
import { compareWithSpatch, gup2pinScan, normalizePath, type SpatchComparison } from './refusals.ts';
import {
  describeMachine,
  GIT_GREP,
  GREP,
  GUP2PIN_COLD,
  GUP2PIN_WARM,
  machineLines,
  markdown,
  megabytes,
  RIPGREP,
  sectionText,
  seconds,
  SPATCH,
  type SectionResult,
  type Skipped,
  type Stages,
  type ToolResult,
} from './report.ts';
import { firstDifference } from './same-diff.ts';
import { targetsFor } from './targets.ts';
import { ensureCommand, ensureLinuxTree, ensureOptionalCommand, log, warmPageCache } from '../provision.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GUP2PIN_BIN = join(REPO_ROOT, 'bin', 'gup2pin');
const COCCI = join(REPO_ROOT, 'test', 'bench', 'gup2pin.cocci');
const DEFAULT_TREE = resolve(REPO_ROOT, '..', 'corpus', 'linux-source-6.1');
const DEFAULT_SUBDIRS = ['.', 'drivers/infiniband'];

interface Options {
  tree: string;
  subdirs: string[];
  reps: number;
  jobs: number;
  markdownFile: string | undefined;
  readmeFile: string | undefined;
}

const USAGE = 'usage: npm run bench -- [TREE] [--subdir DIR]… [--reps N] [--jobs N] [--markdown FILE] [--readme FILE]';

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      subdir: { type: 'string', multiple: true },
      reps: { type: 'string', default: '5' },
      jobs: { type: 'string', default: String(availableParallelism()) },
      markdown: { type: 'string' },
      readme: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length > 1) throw new UsageError(`one tree at most (got ${positionals.join(' ')})`);
  return {
    tree: resolve(positionals[0] ?? DEFAULT_TREE),
    subdirs: (values.subdir ?? DEFAULT_SUBDIRS).map((d) => normalizePath(d.replace(/\/+$/, '')) || '.'),
    reps: positiveInteger('--reps', values.reps!),
    jobs: positiveInteger('--jobs', values.jobs!),
    markdownFile: values.markdown,
    readmeFile: values.readme,
  };
}

class UsageError extends Error {}

/** A measurement that cannot be trusted: the bench stops rather than print it. */
class BenchFailed extends Error {}

function positiveInteger(option: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${option} takes a whole number, at least 1 (got ${text})`);
  return n;
}

// ---- the commands --------------------------------------------------------------------------

/**
 * gup2pin as a user runs it: as a command (its launcher's first lines are a shell script, see
 * bin/gup2pin), from its bundle (GUP2PIN_NO_CACHE=1 would time tsx compiling the sources) and,
 * unless --no-cache, with its result cache (GUP2PIN_NO_RESULT_CACHE=1 turns it off).
 */
const GUP2PIN_ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'GUP2PIN_NO_CACHE' && name !== 'GUP2PIN_NO_RESULT_CACHE'));

/** Every tool's command, in the order they take turns; `skipped` ones are left out. */
function benchCommands(tree: string, subdir: string, jobs: number, skipped: Skipped[], scratch: string): Command[] {
  const gup2pin = (tool: string, cacheOption: string[]): Command => ({
    tool,
    file: GUP2PIN_BIN,
    args: ['diff', '--timings', ...cacheOption, '--jobs', String(jobs), subdir],
    cwd: tree,
    env: GUP2PIN_ENV,
    okStatus: [0, 1],
  });
  const searched = ['-e', 'get_user_pages', '-e', 'pin_user_pages'];
  const all: Command[] = [
    gup2pin(GUP2PIN_COLD, ['--no-cache']),
    gup2pin(GUP2PIN_WARM, []),
    { tool: RIPGREP, file: 'rg', args: ['-l', '-g', '*.c', ...searched, subdir], cwd: tree, okStatus: [0, 1] },
    // git grep searches the index's files from the top of the checkout: DIR is its pathspec's.
    { tool: GIT_GREP, file: 'git', args: ['grep', '-l', ...searched, '--', subdir === '.' ? '*.c' : `${subdir}/*.c`], cwd: tree, okStatus: [0, 1] },
    { tool: GREP, file: 'grep', args: ['-rl', ...searched, '--include=*.c', subdir], cwd: tree, okStatus: [0, 1] },
    {
      tool: SPATCH,
      file: 'spatch',
      // Its temporary files go to the scratch directory, not its working directory (the tree's
      // top): creating them there changed that directory's mtime, so gup2pin's next warm run
      // listed it again and rewrote its directory index (the bench's "changed gup2pin's cache").
      args: ['--sp-file', COCCI, '-D', 'patch', '--very-quiet', '--no-includes', '--include-headers', '--tmp-dir', scratch, '--dir', subdir, '-j', String(jobs)],
      cwd: tree,
      okStatus: [0],
    },
  ];
  return all.filter((c) => !skipped.some((k) => k.tool === c.tool));
}

const SEARCHES = new Set([RIPGREP, GIT_GREP, GREP]);

/** Tree-relative paths of the files a run changed (from its diff) or listed (the searches). */
function filesOf(tool: string, subdir: string, stdout: string): Set<string> {
  if (SEARCHES.has(tool)) return new Set(stdout.split('\n').filter(Boolean).map(normalizePath));
  const files = new Set<string>();
  for (const m of stdout.matchAll(/^\+\+\+ b\/(.+?)(?:\t.*)?$/gm)) {
    // spatch names files relative to its --dir; gup2pin relative to the tree (its --root).
    files.add(normalizePath(tool === SPATCH ? join(subdir, m[1]) : m[1]));
  }
  return files;
}

/** Whether `tree` is the top of a git checkout (not a directory inside another one's). */
function isGitCheckout(tree: string): boolean {
  const r = spawnSync('git', ['rev-parse', '--show-toplevel'], { cwd: tree, encoding: 'utf8' });
  return r.status === 0 && realpathSync(r.stdout.trim()) === realpathSync(tree);
}

/** The tools to leave out, and why: not installed (and not installable), not a git checkout. */
function skippedTools(tree: string): Skipped[] {
  const skipped: Skipped[] = [];
  const ripgrep = ensureOptionalCommand('rg', 'ripgrep');
  if (ripgrep) skipped.push({ tool: RIPGREP, reason: ripgrep });
  if (!isGitCheckout(tree)) skipped.push({ tool: GIT_GREP, reason: 'not a git checkout' });
  const spatch = ensureOptionalCommand('spatch', 'coccinelle');
  if (spatch) skipped.push({ tool: SPATCH, reason: spatch });
  return skipped;
}

/** The command whose `--version` names each measured tool but gup2pin. */
const VERSION_COMMANDS: Array<[string, string]> = [
  [RIPGREP, 'rg'],
  [GIT_GREP, 'git'],
  [GREP, 'grep'],
  [SPATCH, 'spatch'],
];

/**
 * The command as a shell line; the checkout's files (bin/gup2pin, the .cocci) relative to it, the
 * bench's scratch directory as the template it was made from.
 */
function commandLine(c: Command, scratch: string): string {
  const shown = [c.file, ...c.args].map((a) => (a === scratch ? '$TMPDIR/gup2pin-bench-XXXXXX' : shellQuote(a.startsWith(REPO_ROOT) ? a.slice(REPO_ROOT.length) : a)));
  return shown.join(' ');
}

/** `--include='*.c'`: quotes what the shell would expand, after an option's `=`. */
function shellQuote(arg: string): string {
  const [, option, value] = /^(--[\w-]+=)?(.*)$/s.exec(arg)!;
  return /[^\w@%+=:,./-]/.test(value) ? `${option ?? ''}'${value.replace(/'/g, `'\\''`)}'` : arg;
}

// ---- gup2pin's --timings line --------------------------------------------------------------

const TIMINGS_LINE = /^gup2pin: timings \(ms, summed over (\d+) threads?\): (.*); ([\d.]+) s wall$/m;

interface Timings {
  /** Stage name and milliseconds, in the order gup2pin prints them. */
  ms: Array<[string, number]>;
  wall: number;
  /** Threads gup2pin used (it uses one for small runs whatever --jobs says). */
  threads: number;
}

function parseTimings(stderr: string): Timings | undefined {
  const m = TIMINGS_LINE.exec(stderr);
  if (!m) return undefined;
  const ms = m[2].split(', ').map((part): [string, number] => {
    const [name, value] = part.split(' ');
    return [name, Number(value)];
  });
  return { ms, wall: Number(m[3]), threads: Number(m[1]) };
}

/** The median of each stage over the repetitions (none if a run printed no timings line). */
function medianStages(samples: Sample[]): Stages | undefined {
  const runs = samples.map((s) => parseTimings(s.stderr));
  if (!runs.every((r): r is Timings => r !== undefined)) return undefined;
  return {
    ms: runs[0].ms.map(([name], i) => [name, median(runs.map((r) => r.ms[i]?.[1] ?? 0))]),
    inProcessWall: median(runs.map((r) => r.wall)),
    threads: runs[0].threads,
  };
}

// ---- one measured directory ----------------------------------------------------------------

function benchmarkDirectory(opts: Options, subdir: string, skipped: Skipped[], scratch: string): SectionResult {
  const dir = resolve(opts.tree, subdir);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${dir} is not a directory`);
  const commands = benchCommands(opts.tree, subdir, opts.jobs, skipped, scratch);
  log(`${subdir}: reading the files into the page cache`);
  warmPageCache(dir);
  log(`${subdir}: one untimed gup2pin warm run (bundles gup2pin, fills its result cache)`);
  timedRun(commands.find((c) => c.tool === GUP2PIN_WARM)!, scratch);

  const cacheDir = gup2pinCacheDir(REPO_ROOT);
  const samples = new Map<string, Sample[]>(commands.map((c) => [c.tool, []]));
  const files = new Map<string, Set<string>>();
  const disturbed = new Map<string, number>();
  for (let rep = 1; rep <= opts.reps; rep++) {
    let coldDiff = '';
    for (const c of commands) {
      const isGup2pin = c.tool === GUP2PIN_COLD || c.tool === GUP2PIN_WARM;
      const { sample, cacheChanged } = isGup2pin ? timedGup2pinRun(c, scratch, cacheDir) : { sample: timedRun(c, scratch), cacheChanged: false };
      log(`${subdir}: ${rep}/${opts.reps} ${c.tool} ${seconds(sample.wallSeconds)}, ${megabytes(sample.peakRssKb)}`);
      if (cacheChanged) {
        disturbed.set(c.tool, (disturbed.get(c.tool) ?? 0) + 1);
        log(`warning: each of ${CACHE_TRIES} tries of this ${c.tool} run changed gup2pin's cache: its time includes that work`);
      }
      if (c.tool === GUP2PIN_COLD) coldDiff = sample.stdout;
      if (c.tool === GUP2PIN_WARM) checkWarmDiff(subdir, rep, coldDiff, sample.stdout);
      samples.get(c.tool)!.push(sample);
      files.set(c.tool, checkSameFiles(c.tool, files.get(c.tool), filesOf(c.tool, subdir, sample.stdout)));
      // Only the --timings line is needed from here on; the diffs can go.
      sample.stdout = '';
    }
  }

  const tools: ToolResult[] = commands.map((c) => ({
    tool: c.tool,
    commandLine: commandLine(c, scratch),
    summary: summarizeSamples(samples.get(c.tool)!),
    files: files.get(c.tool)!.size,
    filesVerb: SEARCHES.has(c.tool) ? 'listed' : 'changed',
    disturbedRuns: disturbed.get(c.tool),
  }));
  let comparison: SpatchComparison | undefined;
  if (files.has(SPATCH)) {
    log(`${subdir}: gup2pin scan --json on the files spatch changed and gup2pin did not`);
    comparison = compareWithSpatch(files.get(SPATCH)!, files.get(GUP2PIN_COLD)!, gup2pinScan(GUP2PIN_BIN, opts.tree, opts.jobs));
  }
  return {
    subdir,
    reps: opts.reps,
    jobs: opts.jobs,
    tools,
    skipped,
    stages: medianStages(samples.get(GUP2PIN_COLD)!),
    targets: targetsFor(subdir, tools),
    comparison,
  };
}

/**
 * Times a gup2pin run, and again while the run changed gup2pin's cache (see caches.ts), up to
 * CACHE_TRIES times: a run that rebuilt its bundle or missed results measured that work too.
 */
function timedGup2pinRun(c: Command, scratch: string, cacheDir: string): { sample: Sample; cacheChanged: boolean } {
  for (let tries = 1; ; tries++) {
    const before = cacheFingerprint(cacheDir);
    const sample = timedRun(c, scratch);
    if (cacheFingerprint(cacheDir) === before) return { sample, cacheChanged: false };
    if (tries === CACHE_TRIES) return { sample, cacheChanged: true };
    log(`${c.tool} took ${seconds(sample.wallSeconds)} and changed gup2pin's cache in ${cacheDir} (a bundle rebuilt or results written): timing it again`);
  }
}

/** The result cache changes no output: a warm run prints the cold run's diff, byte for byte. */
function checkWarmDiff(subdir: string, rep: number, coldDiff: string, warmDiff: string): void {
  const difference = firstDifference(coldDiff, warmDiff);
  if (difference === undefined) return;
  // Kept (the scratch directory is not) for whoever looks into it.
  const kept = mkdtempSync(join(tmpdir(), 'gup2pin-bench-warm-diff-'));
  writeFileSync(join(kept, 'cold.diff'), coldDiff);
  writeFileSync(join(kept, 'warm.diff'), warmDiff);
  throw new BenchFailed(
    `${subdir}, repetition ${rep}: gup2pin warm printed another diff than gup2pin cold (${difference}); ` +
      `both are kept: diff -u ${join(kept, 'cold.diff')} ${join(kept, 'warm.diff')}`,
  );
}

/** The files of this repetition; every repetition of a tool must give the same ones. */
function checkSameFiles(tool: string, before: Set<string> | undefined, now: Set<string>): Set<string> {
  if (before && (before.size !== now.size || [...now].some((f) => !before.has(f))))
    log(`warning: ${tool} changed/listed ${now.size} files in this repetition, ${before.size} in the first`);
  return before ?? now;
}

// ---- main ----------------------------------------------------------------------------------

function main(argv: string[]): number {
  const opts = parseOptions(argv);
  if (opts.readmeFile) checkReadme(opts.readmeFile);
  ensureLinuxTree(opts.tree);
  ensureCommand(GNU_TIME, 'time');
  const skipped = skippedTools(opts.tree);
  const measured = VERSION_COMMANDS.filter(([tool]) => !skipped.some((k) => k.tool === tool)).map(([, command]) => command);
  const machine = describeMachine(opts.tree, REPO_ROOT, measured);
  console.log(machineLines(machine).join('\n'));

  const scratch = mkdtempSync(join(tmpdir(), 'gup2pin-bench-'));
  const sections: SectionResult[] = [];
  try {
    for (const subdir of opts.subdirs) {
      const section = benchmarkDirectory(opts, subdir, skipped, scratch);
      sections.push(section);
      console.log(`\n${sectionText(section)}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const table = markdown(machine, sections);
  if (opts.markdownFile) {
    writeFileSync(opts.markdownFile, table);
    log(`wrote ${opts.markdownFile}`);
  }
  if (opts.readmeFile) {
    updateReadme(opts.readmeFile, table);
    log(`replaced the table of ${opts.readmeFile}`);
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UsageError || e instanceof CommandFailed || e instanceof BenchFailed || e instanceof ReadmeMarkersError)) throw e;
  process.stderr.write(`bench: ${e.message}\n${e instanceof UsageError ? `${USAGE}\n` : ''}`);
  process.exitCode = 2;
}
