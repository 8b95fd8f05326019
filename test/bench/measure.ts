/**
 * One timed run of a command under GNU time (`/usr/bin/time -v`), and the statistics of several.
 *
 * Wall time is taken here, around the child (high resolution; /usr/bin/time's own adds ~1 ms);
 * CPU time and peak RSS come from /usr/bin/time -v. The command's stdout and stderr are kept in
 * files, so a large diff costs the tool what writing to a file costs, not a pipe to this process.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const GNU_TIME = '/usr/bin/time';

export interface Command {
  /** Column label: gup2pin cold, ripgrep, spatch, … */
  tool: string;
  file: string;
  args: string[];
  cwd: string;
  /** The environment, when not this process's. */
  env?: NodeJS.ProcessEnv;
  /** Exit statuses that mean the command worked (diff(1) and grep exit 1 on success too). */
  okStatus: number[];
}

export interface Sample {
  wallSeconds: number;
  cpuSeconds: number;
  peakRssKb: number;
  stdout: string;
  stderr: string;
}

export class CommandFailed extends Error {}

/** Runs `command` once under /usr/bin/time -v; its output goes to files in `scratch`. */
export function timedRun(command: Command, scratch: string): Sample {
  const base = join(scratch, command.tool.replace(/[^\w.-]+/g, '-'));
  const out = `${base}.out`;
  const err = `${base}.err`;
  const timeReport = `${base}.time`;
  const outFd = openSync(out, 'w');
  const errFd = openSync(err, 'w');
  let status: number | null;
  const start = process.hrtime.bigint();
  try {
    status = spawnSync(GNU_TIME, ['-v', '-o', timeReport, command.file, ...command.args], {
      cwd: command.cwd,
      env: command.env,
      stdio: ['ignore', outFd, errFd],
    }).status;
  } finally {
    closeSync(outFd);
    closeSync(errFd);
  }
  const wallSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const stderr = readFileSync(err, 'utf8');
  if (status === null || !command.okStatus.includes(status))
    throw new CommandFailed(`${command.file} ${command.args.join(' ')} (in ${command.cwd}) exited with ${status}:\n${lastLines(stderr, 20)}`);
  const usage = parseTimeReport(readFileSync(timeReport, 'utf8'));
  return { wallSeconds, ...usage, stdout: readFileSync(out, 'utf8'), stderr };
}

/** CPU seconds (user + system) and peak RSS from the report of `/usr/bin/time -v`. */
export function parseTimeReport(report: string): { cpuSeconds: number; peakRssKb: number } {
  const field = (name: string): number => {
    const m = new RegExp(`^\\s*${name}: ([\\d.]+)$`, 'm').exec(report);
    if (!m) throw new Error(`no "${name}" in the report of ${GNU_TIME} -v:\n${report}`);
    return Number(m[1]);
  };
  return {
    cpuSeconds: field('User time \\(seconds\\)') + field('System time \\(seconds\\)'),
    peakRssKb: field('Maximum resident set size \\(kbytes\\)'),
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface Summary {
  medianWall: number;
  minWall: number;
  maxWall: number;
  medianCpu: number;
  /** The highest peak RSS of all repetitions. */
  peakRssKb: number;
}

export function summarizeSamples(samples: Sample[]): Summary {
  const walls = samples.map((s) => s.wallSeconds);
  return {
    medianWall: median(walls),
    minWall: Math.min(...walls),
    maxWall: Math.max(...walls),
    medianCpu: median(samples.map((s) => s.cpuSeconds)),
    peakRssKb: Math.max(...samples.map((s) => s.peakRssKb)),
  };
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}
