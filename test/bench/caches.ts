/**
 * Whether a timed gup2pin run left its caches as it found them. They live in the checkout's
 * node_modules/.cache/gup2pin: the launcher's bundles and the result cache, one directory per
 * build. A run that found its bundle and, if warm, every result there writes nothing; one that
 * rebuilt a bundle or wrote results did work the measurement does not mean to include. That
 * happens when another checkout sharing node_modules (a git worktree with a symlink) runs a
 * different build: each build prunes the other builds' bundles and results.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Times a gup2pin run is tried while it changes the cache, before its time is kept anyway. */
export const CACHE_TRIES = 3;

export function gup2pinCacheDir(repoRoot: string): string {
  return join(repoRoot, 'node_modules', '.cache', 'gup2pin');
}

/**
 * What a run would change in the cache directory: its entries (bundles, temp files) and, per
 * build's result directory, its inode and mtime (writing or removing an entry changes them).
 */
export function cacheFingerprint(cacheDir: string): string {
  const entries = (dir: string) => {
    try {
      return readdirSync(dir).sort();
    } catch {
      return [];
    }
  };
  const results = join(cacheDir, 'results');
  const builds = entries(results).map((build) => {
    const st = lstatSync(join(results, build), { throwIfNoEntry: false });
    return `${build}@${st?.ino}:${st?.mtimeMs}`;
  });
  return JSON.stringify([entries(cacheDir), builds]);
}
