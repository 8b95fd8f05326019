/**
 * The result cache: what one file came to (its conversion, report and verdicts), kept under a
 * hash of everything that decides it — the file's bytes and the path it is shown as, the target,
 * the options, and the build of gup2pin itself — so a file that has not changed since the last
 * run is not parsed, analysed or simulated again. A run over a tree the developer is working on
 * redoes only the files they touched, as ccache does for a kernel build.
 *
 * It lives beside the launcher's bundles (node_modules/.cache/gup2pin/results/BUILD/), one
 * directory per build: a new build starts empty and removes the others. Any failure (read-only
 * install, a damaged entry) only means the work is done again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';

/** Where the launcher says the cache is, and which build of gup2pin is running (set by bin/load.js). */
export interface CacheLocation {
  dir: string;
  build: string;
}

const LOCATION = Symbol.for('gup2pin.cache');

/**
 * The launcher's cache, when gup2pin runs from its bundle (not through tsx) and
 * GUP2PIN_NO_RESULT_CACHE is not 1 (runs that must each do the work: tests, benchmarks).
 */
export function launcherCache(): CacheLocation | undefined {
  if (process.env.GUP2PIN_NO_RESULT_CACHE === '1') return undefined;
  return (globalThis as Record<symbol, CacheLocation | undefined>)[LOCATION];
}

/** What a run's workers need to use the cache: plain data. */
export interface ResultCacheJob {
  dir: string;
  /** Everything besides the file that decides a result: build, Node, target, options. */
  salt: string;
}

/** Entries kept per build; past it, the older half goes. */
const MAX_ENTRIES = 4000;

/** The cache for a run with these inputs, or undefined if there is none. */
export function resultCacheJob(location: CacheLocation | undefined, inputs: unknown): ResultCacheJob | undefined {
  if (!location) return undefined;
  const dir = join(location.dir, 'results', location.build);
  try {
    mkdirSync(dir, { recursive: true });
    // Results of other builds can never be used again.
    for (const other of readdirSync(join(location.dir, 'results'))) if (other !== location.build) rmSync(join(location.dir, 'results', other), { recursive: true, force: true });
  } catch {
    return undefined;
  }
  return { dir, salt: JSON.stringify([location.build, process.versions.node, inputs]) };
}

/**
 * The entry name for one file as shown at `display` with these bytes: its text as read, line
 * endings included (a CRLF file's output is not its LF twin's).
 */
export function entryKey(job: ResultCacheJob, display: string, raw: string): string {
  return createHash('sha256').update(job.salt).update('\0').update(display).update('\0').update(raw).digest('hex');
}

export function readEntry<T>(job: ResultCacheJob, key: string): T | undefined {
  try {
    return deserialize(readFileSync(join(job.dir, key))) as T;
  } catch {
    return undefined;
  }
}

export function writeEntry(job: ResultCacheJob, key: string, value: unknown): void {
  writeWhole(join(job.dir, key), serialize(value));
}

/** Written whole or not at all (temp file, then rename): a reader never sees half a file. */
export function writeWhole(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = openSync(tmp, 'wx');
    try {
      writeSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch {
    rmSync(tmp, { force: true });
  }
}

/** Keeps the cache bounded: once it holds more than MAX_ENTRIES, the older half goes. */
export function trimEntries(job: ResultCacheJob): void {
  try {
    const names = readdirSync(job.dir);
    if (names.length <= MAX_ENTRIES) return;
    const aged = names.map((n) => ({ n, t: statSync(join(job.dir, n), { throwIfNoEntry: false })?.mtimeMs ?? 0 })).sort((a, b) => a.t - b.t);
    for (const { n } of aged.slice(0, names.length - MAX_ENTRIES / 2)) rmSync(join(job.dir, n), { force: true });
  } catch {
    // Litter, not a failure.
  }
}
