/**
 * The directory index: what the walk kept of each directory's entries at an earlier run (its
 * subdirectories, C files, symlinks and apply journals), known by the directory's stat (mtime,
 * ctime, inode). Creating, removing or renaming an entry sets its directory's mtime and ctime,
 * so while those are unchanged the directory holds the same names; a file written in place does
 * not change them, and the file index (file-index.ts) stats every file for that. A run with the
 * result cache then stats the 6.1 tree's 4,900 directories instead of listing them (84,000
 * entries); this is git's untracked cache.
 *
 * Trusted as the file index trusts a stat (MARGIN_MS): a directory changed within that margin of
 * the run that listed it is listed again next time. A directory whose stat fails is listed, and
 * the listing reports why. It lives beside the file index, one per set of given paths; any
 * failure only means directories are listed again.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { indexName, settled } from './file-index.ts';
import { writeWhole, type ResultCacheJob } from './results.ts';

/** A directory's entries as the walk keeps them (see walk.ts visit). */
export interface Listing {
  /** Sorted names; a subdirectory's ends with the path separator. */
  keys: string[];
  /** The names among `keys` that are symlinks. */
  links: ReadonlySet<string>;
}

/** Numbers kept per directory. */
const WIDTH = 3;

/** Joins the names of one listing: NUL is in no file name. */
const SEP = '\0';

/** The links of a listing without any (almost every directory's). */
export const NO_LINKS: ReadonlySet<string> = new Set();

interface Kept {
  dirs: string[];
  stats: Float64Array;
  keys: string[];
  links: string[];
}

export class DirIndex {
  private readonly at: Map<string, number>;
  /** What this run listed or found unchanged, by directory: what the next run gets. */
  private readonly seen = new Map<string, { st: Float64Array; keys: string; links: string }>();
  private changed = false;

  private constructor(
    private readonly file: string,
    private readonly kept: Kept,
    /** When this run started: stats as recent as this are not trusted next time. */
    private readonly startedAt: number,
  ) {
    this.at = new Map(kept.dirs.map((d, i) => [d, i]));
  }

  /** The index for these given paths (absolute), empty if there is none yet or it is unreadable. */
  static load(job: ResultCacheJob, paths: string[], startedAt = Date.now()): DirIndex {
    const file = join(job.dir, `dirs-${indexName(paths)}`);
    try {
      const kept = deserialize(readFileSync(file)) as Kept;
      const lists = [kept.dirs, kept.keys, kept.links];
      if (!lists.every(Array.isArray) || !(kept.stats instanceof Float64Array) || new Set(lists.map((l) => l.length)).size !== 1) throw new Error('not an index');
      if (kept.stats.length !== kept.dirs.length * WIDTH) throw new Error('not an index');
      return new DirIndex(file, kept, startedAt);
    } catch {
      return new DirIndex(file, { dirs: [], stats: new Float64Array(0), keys: [], links: [] }, startedAt);
    }
  }

  /**
   * The directory's stat, taken before it is listed (a change while it is listed gives it a later
   * stat than the one kept); undefined if it cannot be taken.
   */
  stat(dir: string): Float64Array | undefined {
    let st: Stats | undefined;
    try {
      st = statSync(dir, { throwIfNoEntry: false });
    } catch {
      return undefined;
    }
    return st && Float64Array.of(st.mtimeMs, st.ctimeMs, st.ino);
  }

  /** The entries kept for `dir` if it still has the stat they were listed at (kept for the next run too). */
  unchanged(dir: string, st: Float64Array): Listing | undefined {
    const i = this.at.get(dir);
    if (i === undefined) return undefined;
    for (let k = 0; k < WIDTH; k++) if (this.kept.stats[i * WIDTH + k] !== st[k]) return undefined;
    const keys = this.kept.keys[i];
    const links = this.kept.links[i];
    this.seen.set(dir, { st, keys, links });
    return { keys: keys ? keys.split(SEP) : [], links: links ? new Set(links.split(SEP)) : NO_LINKS };
  }

  /** `dir`, at stat `st`, was just listed so. */
  record(dir: string, st: Float64Array, listing: Listing): void {
    this.changed = true;
    if (!settled(st[0], st[1], this.startedAt)) return;
    this.seen.set(dir, { st, keys: listing.keys.join(SEP), links: [...listing.links].join(SEP) });
  }

  /** Keeps what this run saw: only its directories (one no longer there is forgotten). */
  save(): void {
    if (!this.changed && this.seen.size === this.kept.dirs.length) return;
    const dirs = [...this.seen.keys()];
    const stats = new Float64Array(dirs.length * WIDTH);
    const keys: string[] = [];
    const links: string[] = [];
    dirs.forEach((d, i) => {
      const s = this.seen.get(d)!;
      stats.set(s.st, i * WIDTH);
      keys.push(s.keys);
      links.push(s.links);
    });
    writeWhole(this.file, serialize({ dirs, stats, keys, links } satisfies Kept));
  }
}
