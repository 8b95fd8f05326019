/**
 * Benchmark of issue 5: gup2pin against Coccinelle and grep on a whole Linux tree.
 *
 *   npm run bench -- [TREE] [--subdir DIR]… [--reps N] [--jobs N] [--markdown FILE]
 *
 * TREE defaults to ../corpus/linux-source-6.1 beside the checkout, unpacked from Debian's
 * linux-source-6.1 (installed with apt-get) when it is not there; spatch (Debian's coccinelle)
 * and /usr/bin/time (GNU time) are installed the same way when missing.
 *
 * For each DIR (default: `.`, the whole tree, then drivers/infiniband; a --subdir replaces both),
 * with the tree's files in the page cache and the commands run in TREE, it times N repetitions
 * (default 5), interleaved, of
 *
 *   gup2pin  node bin/gup2pin diff --timings --jobs J DIR   (scan + plan + verify + diff)
 *   spatch   spatch --sp-file test/bench/gup2pin.cocci -D patch --very-quiet --no-includes
 *                   --include-headers --dir DIR -j J          (the same scope, a syntactic rule)
 *   grep     grep -rl -e get_user_pages -e pin_user_pages --include='*.c' DIR
 *
 * and prints the median, min and max wall time, the CPU time, the peak RSS (from
 * /usr/bin/time -v) and the number of files each changed or listed; the ratios spatch/gup2pin
 * and gup2pin/grep against the targets of issue 5; gup2pin's time per stage (its --timings line);
 * and, for the files spatch changed and gup2pin did not, why gup2pin left them (the diagnostic
 * codes of `gup2pin scan --json` on those files). --markdown FILE also writes it as Markdown.
 *
 * J defaults to the number of cores. gup2pin gets one untimed run first (it bundles its sources
 * on the first run after they change). Not in `npm test`: vitest only picks up *.test.ts.
 *
 * spatch's options: --very-quiet is what scripts/coccicheck passes; --no-includes and
 * --include-headers are the `// Options:` line of gup2pin.cocci, which coccicheck also passes
 * (the rules need no type information from headers, and .h files with function bodies are
 * searched, as gup2pin does). Its peak RSS is that of its largest process (getrusage of the
 * children): with -j J, its J workers each hold about that much.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CommandFailed, GNU_TIME, median, summarizeSamples, timedRun, type Command, type Sample } from './measure.ts';
import { compareWithSpatch, gup2pinScan, normalizePath } from './refusals.ts';
import {
  describeMachine,
  GREP_RATIO,
  machineLines,
  markdown,
  megabytes,
  sectionText,
  seconds,
  SPATCH_RATIO,
  times,
  type SectionResult,
  type Stages,
  type Target,
  type ToolResult,
} from './report.ts';
import { ensureCommand, ensureLinuxTree, log, warmPageCache } from '../provision.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GUP2PIN_BIN = join(REPO_ROOT, 'bin', 'gup2pin');
const COCCI = join(REPO_ROOT, 'test', 'bench', 'gup2pin.cocci');
const DEFAULT_TREE = resolve(REPO_ROOT, '..', 'corpus', 'linux-source-6.1');
const DEFAULT_SUBDIRS = ['.', 'drivers/infiniband'];

/** The targets of issue 5 (2-core machine, warm page cache), by measured directory. */
const WHOLE_TREE_WALL_S = 2.5;
const WHOLE_TREE_RSS_KB = 400 * 1024;
const MIN_SPATCH_RATIO = 20;
const MAX_GREP_RATIO = 2;
const SUBSYSTEM_WALL_S: Record<string, number> = { 'drivers/infiniband': 0.5 };

interface Options {
  tree: string;
  subdirs: string[];
  reps: number;
  jobs: number;
  markdownFile: string | undefined;
}

const USAGE = 'usage: npm run bench -- [TREE] [--subdir DIR]… [--reps N] [--jobs N] [--markdown FILE]';

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      subdir: { type: 'string', multiple: true },
      reps: { type: 'string', default: '5' },
      jobs: { type: 'string', default: String(availableParallelism()) },
      markdown: { type: 'string' },
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
  };
}

class UsageError extends Error {}

function positiveInteger(option: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${option} takes a whole number, at least 1 (got ${text})`);
  return n;
}

// ---- the three commands --------------------------------------------------------------------

function benchCommands(tree: string, subdir: string, jobs: number): Command[] {
  return [
    { tool: 'gup2pin', file: 'node', args: [GUP2PIN_BIN, 'diff', '--timings', '--no-cache', '--jobs', String(jobs), subdir], cwd: tree, okStatus: [0, 1] },
    {
      tool: 'spatch',
      file: 'spatch',
      args: ['--sp-file', COCCI, '-D', 'patch', '--very-quiet', '--no-includes', '--include-headers', '--dir', subdir, '-j', String(jobs)],
      cwd: tree,
      okStatus: [0],
    },
    { tool: 'grep', file: 'grep', args: ['-rl', '-e', 'get_user_pages', '-e', 'pin_user_pages', '--include=*.c', subdir], cwd: tree, okStatus: [0, 1] },
  ];
}

/** Tree-relative paths of the files a run changed (from its diff) or listed (grep). */
function filesOf(tool: string, subdir: string, stdout: string): Set<string> {
  if (tool === 'grep') return new Set(stdout.split('\n').filter(Boolean).map(normalizePath));
  const files = new Set<string>();
  for (const m of stdout.matchAll(/^\+\+\+ b\/(.+?)(?:\t.*)?$/gm)) {
    // spatch names files relative to its --dir; gup2pin relative to the tree (its --root).
    files.add(normalizePath(tool === 'spatch' ? join(subdir, m[1]) : m[1]));
  }
  return files;
}

/** The command as a shell line; the checkout's files (bin/gup2pin, the .cocci) relative to it. */
function commandLine(c: Command): string {
  const shown = c.args.map((a) => shellQuote(a.startsWith(REPO_ROOT) ? a.slice(REPO_ROOT.length) : a));
  return [c.file, ...shown].join(' ');
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

function benchmarkDirectory(opts: Options, subdir: string, scratch: string): SectionResult {
  const dir = resolve(opts.tree, subdir);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${dir} is not a directory`);
  const commands = benchCommands(opts.tree, subdir, opts.jobs);
  log(`${subdir}: reading the files into the page cache`);
  warmPageCache(dir);
  log(`${subdir}: one untimed gup2pin run`);
  timedRun(commands[0], scratch);

  const samples = new Map<string, Sample[]>(commands.map((c) => [c.tool, []]));
  const files = new Map<string, Set<string>>();
  for (let rep = 1; rep <= opts.reps; rep++) {
    for (const c of commands) {
      const sample = timedRun(c, scratch);
      log(`${subdir}: ${rep}/${opts.reps} ${c.tool} ${seconds(sample.wallSeconds)}, ${megabytes(sample.peakRssKb)}`);
      samples.get(c.tool)!.push(sample);
      files.set(c.tool, checkSameFiles(c.tool, files.get(c.tool), filesOf(c.tool, subdir, sample.stdout)));
      // Only the --timings line is needed from here on; the diffs can go.
      sample.stdout = '';
    }
  }

  const tools: ToolResult[] = commands.map((c) => ({
    tool: c.tool,
    commandLine: commandLine(c),
    summary: summarizeSamples(samples.get(c.tool)!),
    files: files.get(c.tool)!.size,
    filesVerb: c.tool === 'grep' ? 'listed' : 'changed',
  }));
  log(`${subdir}: gup2pin scan --json on the files spatch changed and gup2pin did not`);
  const comparison = compareWithSpatch(files.get('spatch')!, files.get('gup2pin')!, gup2pinScan(GUP2PIN_BIN, opts.tree, opts.jobs));
  return {
    subdir,
    reps: opts.reps,
    jobs: opts.jobs,
    tools,
    stages: medianStages(samples.get('gup2pin')!),
    targets: targetsFor(subdir, tools),
    comparison,
  };
}

/** The files of this repetition; every repetition of a tool must give the same ones. */
function checkSameFiles(tool: string, before: Set<string> | undefined, now: Set<string>): Set<string> {
  if (before && (before.size !== now.size || [...now].some((f) => !before.has(f))))
    log(`warning: ${tool} changed/listed ${now.size} files in this repetition, ${before.size} in the first`);
  return before ?? now;
}

function targetsFor(subdir: string, tools: ToolResult[]): Target[] {
  const summary = (tool: string) => tools.find((t) => t.tool === tool)!.summary;
  const gup2pin = summary('gup2pin');
  const wall = (limit: number): Target => ({ label: 'gup2pin median wall', value: gup2pin.medianWall, limit, bound: 'max', format: seconds });
  if (subdir in SUBSYSTEM_WALL_S) return [wall(SUBSYSTEM_WALL_S[subdir])];
  if (subdir !== '.') return [];
  return [
    wall(WHOLE_TREE_WALL_S),
    { label: 'gup2pin peak RSS', value: gup2pin.peakRssKb, limit: WHOLE_TREE_RSS_KB, bound: 'max', format: megabytes },
    { label: SPATCH_RATIO, value: summary('spatch').medianWall / gup2pin.medianWall, limit: MIN_SPATCH_RATIO, bound: 'min', format: times },
    { label: GREP_RATIO, value: gup2pin.medianWall / summary('grep').medianWall, limit: MAX_GREP_RATIO, bound: 'max', format: times },
  ];
}

// ---- main ----------------------------------------------------------------------------------

function main(argv: string[]): number {
  const opts = parseOptions(argv);
  ensureLinuxTree(opts.tree);
  ensureCommand('spatch', 'coccinelle');
  ensureCommand(GNU_TIME, 'time');
  const machine = describeMachine(opts.tree, REPO_ROOT);
  console.log(machineLines(machine).join('\n'));

  const scratch = mkdtempSync(join(tmpdir(), 'gup2pin-bench-'));
  const sections: SectionResult[] = [];
  try {
    for (const subdir of opts.subdirs) {
      const section = benchmarkDirectory(opts, subdir, scratch);
      sections.push(section);
      console.log(`\n${sectionText(section)}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  if (opts.markdownFile) {
    writeFileSync(opts.markdownFile, markdown(machine, sections));
    log(`wrote ${opts.markdownFile}`);
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UsageError || e instanceof CommandFailed)) throw e;
  process.stderr.write(`bench: ${e.message}\n${e instanceof UsageError ? `${USAGE}\n` : ''}`);
  process.exitCode = 2;
}
