/**
 * The benchmark's output: the machine it ran on, and per measured directory a table of the
 * tools, the ratios of their median walls (against ripgrep, the fastest search a kernel developer
 * already has) and the targets of issue 18, gup2pin's per-stage times and the tally of spatch's
 * changes gup2pin refuses. Rendered as plain text (stdout) or Markdown (--markdown, --readme).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { CACHE_TRIES } from './caches.ts';
import type { Summary } from './measure.ts';
import type { SpatchComparison } from './refusals.ts';

export interface Machine {
  date: string;
  cores: number;
  cpuModel: string;
  ramGb: number;
  /** 1-minute load average when the benchmark started: other work on the machine skews it. */
  loadAverage: number;
  node: string;
  kernelTree: string;
  gup2pin: string;
  /** The first line of `--version` of each other tool measured. */
  toolVersions: string[];
}

/** The tools, as the table and the ratios name them. */
export const GUP2PIN_COLD = 'gup2pin cold';
export const GUP2PIN_WARM = 'gup2pin warm';
export const RIPGREP = 'ripgrep';
export const GIT_GREP = 'git grep';
export const GREP = 'grep';
export const SPATCH = 'spatch';

export interface ToolResult {
  tool: string;
  commandLine: string;
  summary: Summary;
  /** Files changed (gup2pin, spatch) or listed (the searches) by the last repetition. */
  files: number;
  filesVerb: 'changed' | 'listed';
  /** Runs that changed gup2pin's own cache in every try (see caches.ts): their times include work they should not. */
  disturbedRuns?: number;
}

/** A tool not measured, and why (not installed, not a git checkout). */
export interface Skipped {
  tool: string;
  reason: string;
}

export interface Stages {
  /** Per-stage milliseconds summed over threads, median over the repetitions, in gup2pin's order. */
  ms: Array<[string, number]>;
  /** gup2pin's own wall time (from main() to the timings line), median. */
  inProcessWall: number;
  /** Threads gup2pin used. */
  threads: number;
}

export interface Target {
  label: string;
  value: number;
  limit: number;
  /** Whether the value must be at most or at least the limit. */
  bound: 'max' | 'min';
  format: (n: number) => string;
}

export interface SectionResult {
  subdir: string;
  reps: number;
  jobs: number;
  tools: ToolResult[];
  skipped: Skipped[];
  /** gup2pin cold's. */
  stages: Stages | undefined;
  targets: Target[];
  /** Undefined when spatch was skipped. */
  comparison: SpatchComparison | undefined;
}

/** `versionCommands`: the other tools measured, by command name (rg, git, grep, spatch). */
export function describeMachine(tree: string, repoRoot: string, versionCommands: string[]): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    date: new Date().toISOString().replace(/:\d\d\.\d+Z$/, 'Z').replace('T', ' '),
    cores: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown CPU',
    ramGb: totalmem() / 2 ** 30,
    loadAverage: loadavg()[0],
    node: process.version,
    kernelTree: `${tree} (Linux ${kernelVersion(tree)})`,
    gup2pin: gup2pinVersion(repoRoot),
    toolVersions: versionCommands.map((command) => firstLine(command, ['--version'])),
  };
}

function kernelVersion(tree: string): string {
  const makefile = readFileSync(join(tree, 'Makefile'), 'utf8');
  const field = (name: string) => new RegExp(`^${name} = *(\\S*)`, 'm').exec(makefile)?.[1] ?? '';
  const version = `${field('VERSION')}.${field('PATCHLEVEL')}.${field('SUBLEVEL')}${field('EXTRAVERSION')}`;
  return version === '..' ? 'version unknown' : version;
}

/** package.json's version, and the commit when the checkout is a git repository. */
function gup2pinVersion(repoRoot: string): string {
  const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  try {
    const git = (args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = git(['status', '--porcelain', '--untracked-files=no', '--', 'src', 'transforms', 'bin']) ? ' + uncommitted changes' : '';
    return `${version} (commit ${git(['rev-parse', '--short', 'HEAD'])}${dirty})`;
  } catch {
    return version;
  }
}

function firstLine(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8' }).split('\n')[0].trim();
}

export function machineLines(m: Machine): string[] {
  return [
    `date: ${m.date}`,
    `machine: ${m.cores} cores (${m.cpuModel}), ${m.ramGb.toFixed(1)} GB RAM, node ${m.node}, load average ${m.loadAverage.toFixed(2)} at the start`,
    `tools: ${[`gup2pin ${m.gup2pin}`, ...m.toolVersions].join('; ')}`,
    `tree: ${m.kernelTree}, warm page cache`,
  ];
}

// ---- numbers -------------------------------------------------------------------------------

export const seconds = (s: number) => `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
export const megabytes = (kb: number) => `${Math.round(kb / 1024)} MB`;
const filesCount = (n: number) => `${n} file${n === 1 ? '' : 's'}`;
export const times = (x: number) => `${x < 10 ? x.toFixed(1) : Math.round(x)}×`;

function targetVerdict(t: Target): string {
  const met = t.bound === 'max' ? t.value <= t.limit : t.value >= t.limit;
  if (met) return 'met';
  const factor = t.bound === 'max' ? t.value / t.limit : t.limit / t.value;
  // Two decimals for a near miss: 418 MB against 400 MB is not "missed by 1.0×".
  return `missed by ${factor.toFixed(factor < 1.1 ? 2 : 1)}×`;
}

function targetLine(t: Target): string {
  return `${t.label}: ${t.format(t.value)} (target ${t.bound === 'max' ? '≤' : '≥'} ${t.format(t.limit)}): ${targetVerdict(t)}`;
}

function sectionTitle(s: SectionResult): string {
  const where = s.subdir === '.' ? 'whole tree' : s.subdir;
  return `${where}: median of ${s.reps} run${s.reps === 1 ? '' : 's'}, --jobs ${s.jobs}`;
}

function toolRows(s: SectionResult): string[][] {
  return s.tools.map((t) => [
    t.tool,
    seconds(t.summary.medianWall),
    seconds(t.summary.minWall),
    seconds(t.summary.maxWall),
    seconds(t.summary.medianCpu),
    megabytes(t.summary.peakRssKb),
    `${t.files} ${t.filesVerb}`,
  ]);
}

const TOOL_HEADER = ['tool', 'median wall', 'min', 'max', 'CPU (user+sys)', 'peak RSS', 'files'];
const RIGHT_ALIGNED = [false, true, true, true, true, true, true];

/** A ratio of two tools' median walls. */
export interface Ratio {
  numerator: string;
  denominator: string;
}

/** The ratios printed, when both tools were measured; those with a target print as targets. */
export const RATIOS: Ratio[] = [
  { numerator: GUP2PIN_COLD, denominator: RIPGREP },
  { numerator: GUP2PIN_WARM, denominator: RIPGREP },
  { numerator: SPATCH, denominator: GUP2PIN_COLD },
  { numerator: GUP2PIN_COLD, denominator: GREP },
  { numerator: GUP2PIN_COLD, denominator: GIT_GREP },
];

export const ratioLabel = (r: Ratio) => `${r.numerator} / ${r.denominator} (median wall)`;

/** The ratio's value, or undefined if either tool was not measured. */
export function ratioValue(tools: ToolResult[], r: Ratio): number | undefined {
  const wall = (tool: string) => tools.find((t) => t.tool === tool)?.summary.medianWall;
  const [numerator, denominator] = [wall(r.numerator), wall(r.denominator)];
  return numerator === undefined || denominator === undefined ? undefined : numerator / denominator;
}

/** The targets, then the other ratios. */
function ratioLines(s: SectionResult): string[] {
  const judged = new Set(s.targets.map((t) => t.label));
  const informational = RATIOS.flatMap((r) => {
    const value = ratioValue(s.tools, r);
    return value === undefined || judged.has(ratioLabel(r)) ? [] : [`${ratioLabel(r)}: ${times(value)}`];
  });
  return [...s.targets.map(targetLine), ...informational];
}

/** Tools that were not measured, and runs whose times gup2pin's cache makes doubtful. */
function noteLines(s: SectionResult): string[] {
  const skipped = s.skipped.map((k) => `${k.tool}: ${k.reason}: skipped`);
  const disturbed = s.tools.flatMap((t) =>
    t.disturbedRuns
      ? [
          `${t.tool}: ${t.disturbedRuns} of ${s.reps} run${s.reps === 1 ? '' : 's'} changed gup2pin's cache in each of ${CACHE_TRIES} tries (rebuilt a bundle ` +
            `or wrote results, e.g. after another checkout sharing node_modules ran another build): ${t.disturbedRuns === 1 ? 'its time includes' : 'their times include'} that work`,
        ]
      : [],
  );
  return [...skipped, ...disturbed];
}

function stageLine(s: SectionResult): string | undefined {
  if (!s.stages) return undefined;
  const gup = s.tools.find((t) => t.tool === GUP2PIN_COLD)!.summary.medianWall;
  const parts = s.stages.ms.map(([name, ms]) => `${name} ${Math.round(ms)}`).join(', ');
  return (
    `${GUP2PIN_COLD} stages (ms, summed over ${s.stages.threads} thread${s.stages.threads === 1 ? '' : 's'}, medians): ${parts}; ` +
    `${seconds(s.stages.inProcessWall)} wall in-process, ${seconds(Math.max(0, gup - s.stages.inProcessWall))} start-up and exit`
  );
}

function comparisonHeadline(c: SpatchComparison): string {
  const extra = c.gup2pinOnly.length ? ` (and ${c.gup2pinOnly.length} that spatch did not: ${c.gup2pinOnly.join(', ')})` : '';
  const why = c.spatchOnly.length ? `; why gup2pin leaves the other ${c.spatchOnly.length}, by code (sites in files)` : '';
  return `spatch changed ${filesCount(c.spatchFiles)}, gup2pin ${c.both} of them${extra}${why}`;
}

// ---- plain text ----------------------------------------------------------------------------

export function sectionText(s: SectionResult): string {
  const out = [sectionTitle(s)];
  for (const t of s.tools) out.push(`  $ ${t.commandLine}`);
  out.push(...noteLines(s).map((l) => `  ${l}`));
  out.push(...textTable([TOOL_HEADER, ...toolRows(s)], RIGHT_ALIGNED).map((l) => `  ${l}`));
  out.push(...ratioLines(s).map((l) => `  ${l}`));
  const stages = stageLine(s);
  if (stages) out.push(`  ${stages}`);
  if (s.comparison) {
    out.push(`  ${comparisonHeadline(s.comparison)}${s.comparison.refusals.length ? ':' : ''}`);
    for (const r of s.comparison.refusals) out.push(`    ${r.code}: ${r.sites} in ${r.files.size} — e.g. ${r.example}`);
  }
  return out.join('\n');
}

function textTable(rows: string[][], right: boolean[]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => [...r[i]].length)));
  const pad = (cell: string, i: number) => (right[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]));
  return rows.map((r) => r.map(pad).join('  ').trimEnd());
}

// ---- Markdown ------------------------------------------------------------------------------

export function markdown(machine: Machine, sections: SectionResult[]): string {
  const out = [machineLines(machine).map((l) => `${l}  `).join('\n'), ''];
  for (const s of sections) {
    out.push(`**${sectionTitle(s)}**`, '', '```');
    for (const t of s.tools) out.push(`$ ${t.commandLine}`);
    out.push('```', '');
    const notes = noteLines(s);
    if (notes.length) out.push(notes.map((l) => `${l}  `).join('\n').trimEnd(), '');
    out.push(markdownTable([TOOL_HEADER, ...toolRows(s)], RIGHT_ALIGNED), '');
    out.push(...ratioLines(s).map((l) => `- ${l}`));
    const stages = stageLine(s);
    if (stages) out.push(`- ${stages}`);
    out.push('');
    if (!s.comparison) continue;
    out.push(`${comparisonHeadline(s.comparison)}.`, '');
    if (s.comparison.refusals.length)
      out.push(
        markdownTable(
          [['code', 'sites', 'files', 'example'], ...s.comparison.refusals.map((r) => [`\`${r.code}\``, String(r.sites), String(r.files.size), r.example])],
          [false, true, true, false],
        ),
        '',
      );
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function markdownTable(rows: string[][], right: boolean[]): string {
  const cell = (c: string) => c.replace(/\|/g, '\\|');
  const line = (r: string[]) => `| ${r.map(cell).join(' | ')} |`;
  const rule = `|${right.map((r) => (r ? '---:' : '---')).join('|')}|`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n');
}
