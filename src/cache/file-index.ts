/**
 * The file index: which files of the paths called no GUP API in their code at an earlier run
 * (most hold not even the prefilter's bytes), known by their stat (size, mtime, ctime, inode), as
 * git's index knows unchanged files. A run with the result cache then stats those files instead
 * of reading them: on the 6.1 tree, 55,000 stats instead of 1.18 GB read and searched.
 *
 * A stat is only trusted when it cannot hide a change (git's "racily clean" files): a file whose
 * mtime or ctime is within MARGIN_MS of the start of the run that recorded it could be changed
 * again within the same timestamp tick, so it is not recorded and is read again next time. A
 * changed file always has a new ctime (nothing can set it back), whatever its mtime says.
 *
 * It lives in the result cache's directory (one per build, so a new prefilter starts afresh),
 * one index per set of given paths. Any failure only means files are read again.
 */
import { createHash } from 'node:crypto';
import { readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { writeWhole, type ResultCacheJob } from './results.ts';

/** Numbers kept per file. */
const WIDTH = 4;

/** Coarser than any file system's timestamp tick that matters here (FAT's is 2 s). */
export const MARGIN_MS = 2000;

/**
 * Whether a stat with this mtime and ctime, taken by a run started at `startedAt`, can be trusted
 * by the next run: both older than MARGIN_MS before it (the file and the directory index).
 */
export const settled = (mtimeMs: number, ctimeMs: number, startedAt: number) => mtimeMs < startedAt - MARGIN_MS && ctimeMs < startedAt - MARGIN_MS;

/** The name of the indexes of runs over these given paths (absolute). */
export const indexName = (paths: string[]) => createHash('sha256').update(JSON.stringify([...paths].sort())).digest('hex').slice(0, 20);

/**
 * One slot of WIDTH numbers per file of the run, in shared memory so every thread reads and
 * writes its files' slots: what the index knew (NaN: nothing), and what this run saw.
 */
export interface IndexSlots {
  known: SharedArrayBuffer;
  seen: SharedArrayBuffer;
}

interface Kept {
  paths: string;
  stats: Float64Array;
}

export class FileIndex {
  private constructor(
    private readonly file: string,
    /** The files it knows, one per line, in the order of `stats` (a run's, sorted). */
    private readonly joined: string,
    private readonly stats: Float64Array,
    /** When this run started: stats as recent as this are not trusted next time. */
    private readonly startedAt: number,
  ) {}

  /** The index for these given paths (absolute), empty if there is none yet or it is unreadable. */
  static load(job: ResultCacheJob, paths: string[], startedAt = Date.now()): FileIndex {
    const file = join(job.dir, `files-${indexName(paths)}`);
    try {
      const kept = deserialize(readFileSync(file)) as Kept;
      if (typeof kept.paths !== 'string' || !(kept.stats instanceof Float64Array)) throw new Error('not an index');
      return new FileIndex(file, kept.paths, kept.stats, startedAt);
    } catch {
      // No index yet (or a damaged one): every file is read.
      return new FileIndex(file, '', new Float64Array(0), startedAt);
    }
  }

  /** The files it knows, split only when this run's differ (a tree's 55,000 lines). */
  private get paths(): readonly string[] {
    return (this.split ??= this.joined ? this.joined.split('\n') : []);
  }
  private split?: string[];

  /** Shared slots for this run's files, filled with what the index knows of each. */
  slots(files: readonly string[]): IndexSlots {
    const known = new Float64Array(new SharedArrayBuffer(files.length * WIDTH * 8)).fill(NaN);
    const seen = new Float64Array(new SharedArrayBuffer(files.length * WIDTH * 8)).fill(NaN);
    const copy = (from: number, to: number) => {
      for (let k = 0; k < WIDTH; k++) known[to * WIDTH + k] = this.stats[from * WIDTH + k];
    };
    // The usual warm run: the same files as last time, slot for slot.
    if (files.length * WIDTH === this.stats.length && files.join('\n') === this.joined) {
      known.set(this.stats);
      return { known: known.buffer as SharedArrayBuffer, seen: seen.buffer as SharedArrayBuffer };
    }
    // Both lists are a run's walk, sorted: one pass over the two, not 55,000 lookups.
    if (isSorted(files) && isSorted(this.paths)) {
      for (let i = 0, j = 0; i < files.length && j < this.paths.length; ) {
        if (files[i] === this.paths[j]) copy(j++, i++);
        else if (files[i] < this.paths[j]) i++;
        else j++;
      }
    } else {
      const at = new Map(this.paths.map((p, j) => [p, j]));
      files.forEach((path, i) => {
        const j = at.get(path);
        if (j !== undefined) copy(j, i);
      });
    }
    return { known: known.buffer as SharedArrayBuffer, seen: seen.buffer as SharedArrayBuffer };
  }

  /** Keeps what this run saw (only this run's files: a file no longer there is forgotten). */
  save(files: readonly string[], slots: IndexSlots): void {
    const seen = new Float64Array(slots.seen);
    const known = new Float64Array(slots.known);
    const keep = (i: number) => !Number.isNaN(seen[i * WIDTH]) && this.trusted(seen, i * WIDTH);
    // Every file kept with the stat it was known by, and no other: the index is the same (the
    // usual warm run), and nothing is built.
    let kept = 0;
    let changed = false;
    for (let i = 0; i < files.length; i++) {
      if (!keep(i)) continue;
      kept++;
      changed ||= !sameStat(seen, known, i * WIDTH);
    }
    if (!changed && kept * WIDTH === this.stats.length) return;
    const paths: string[] = [];
    const stats = new Float64Array(kept * WIDTH);
    for (let i = 0; i < files.length; i++) {
      if (!keep(i)) continue;
      stats.set(seen.subarray(i * WIDTH, (i + 1) * WIDTH), paths.length * WIDTH);
      paths.push(files[i]);
    }
    writeWhole(this.file, serialize({ paths: paths.join('\n'), stats } satisfies Kept));
  }

  /** Whether a stat seen by this run can be trusted by the next one (see MARGIN_MS). */
  private trusted(seen: Float64Array, at: number): boolean {
    return settled(seen[at + 1], seen[at + 2], this.startedAt);
  }
}

function isSorted(paths: readonly string[]): boolean {
  for (let i = 1; i < paths.length; i++) if (paths[i - 1] >= paths[i]) return false;
  return true;
}

/** The numbers the index keeps of a file. */
function put(into: Float64Array, at: number, st: Stats): void {
  into[at] = st.size;
  into[at + 1] = st.mtimeMs;
  into[at + 2] = st.ctimeMs;
  into[at + 3] = st.ino;
}

const sameStat = (a: Float64Array, b: Float64Array, at: number) => a[at] === b[at] && a[at + 1] === b[at + 1] && a[at + 2] === b[at + 2] && a[at + 3] === b[at + 3];

/** A thread's view of the slots. */
export class SlotView {
  private readonly knew: Float64Array;
  private readonly seen: Float64Array;
  private readonly scratch = new Float64Array(WIDTH);

  constructor(slots: IndexSlots) {
    this.knew = new Float64Array(slots.known);
    this.seen = new Float64Array(slots.seen);
  }

  /** Whether the index knows file `i` (as no candidate, at some stat). */
  known(i: number): boolean {
    return !Number.isNaN(this.knew[i * WIDTH]);
  }

  /** Whether file `i` is known to be no candidate and its stat says it is unchanged. */
  unchanged(i: number, st: Stats): boolean {
    const at = i * WIDTH;
    if (Number.isNaN(this.knew[at])) return false;
    put(this.scratch, 0, st);
    for (let k = 0; k < WIDTH; k++) if (this.scratch[k] !== this.knew[at + k]) return false;
    this.seen.set(this.scratch, at);
    return true;
  }

  /** File `i`, with this stat (taken before it was read), is no candidate. */
  record(i: number, st: Stats): void {
    put(this.seen, i * WIDTH, st);
  }
}
