/**
 * The kernel tree that holds the given paths: where the callers of a file's helpers are searched
 * for, even outside the paths themselves.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { dirsUp } from '../discover/root.ts';

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

const isKernelTop = (d: string) => existsSync(resolve(d, 'Makefile')) && existsSync(resolve(d, 'Kbuild'));

/** The git top level above `dir`, if git is there and `dir` is in a work tree. */
function gitTop(dir: string): string | undefined {
  try {
    const out = execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The nearest directory at or above `dir` with the kernel's top-level Makefile and Kbuild. */
function kernelTop(dir: string): string | undefined {
  for (const d of dirsUp(dir)) if (isKernelTop(d)) return d;
  return undefined;
}

/**
 * The kernel tree of the first path: the git top level when it is a kernel tree, else the nearest
 * directory above with a kernel top-level Makefile and Kbuild; undefined outside a kernel tree
 * (then only the paths are searched: a driver copied into another project's repository must not
 * be linked with that project's files).
 */
export function kernelTreeOf(paths: string[]): string | undefined {
  for (const p of paths) {
    const abs = resolve(p);
    const dir = isDir(abs) ? abs : dirname(abs);
    if (!isDir(dir)) continue;
    const git = gitTop(dir);
    return git && isKernelTop(git) ? git : kernelTop(dir);
  }
  return undefined;
}
