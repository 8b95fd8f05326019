/**
 * The tree paths are shown relative to. Kernel patches are always relative to the top of the
 * tree (`git apply` rejects `a/../x.c`), wherever the user stands: `cd drivers/infiniband &&
 * gup2pin diff hw/hfi1` must print `a/drivers/infiniband/hw/hfi1/…`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/**
 * Whether a path relative to a directory (`path.relative()`'s) leaves it. Not startsWith('..'):
 * `..foo.c` is a fine name inside the tree.
 */
export const leaves = (rel: string) => rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);

/** The directory `path` is (or the one holding it, for a file or a missing path), then each above it. */
export function* dirsUp(path: string): Generator<string> {
  let dir = resolve(path);
  try {
    if (!statSync(dir).isDirectory()) dir = dirname(dir);
  } catch {
    dir = dirname(dir);
  }
  for (;;) {
    yield dir;
    const parent = dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/**
 * The top of the tree holding `path`: the nearest directory above it that is a git checkout's top
 * level (`.git`, a directory or a worktree's file) or a kernel tree's top. Undefined if there is none.
 */
export function treeTop(path: string): string | undefined {
  for (const dir of dirsUp(path)) if (isGitTop(dir) || isKernelTop(dir)) return dir;
  return undefined;
}

/** A git checkout's top level: it holds `.git` (a directory, or a worktree's file). */
const isGitTop = (dir: string) => existsSync(join(dir, '.git'));

/**
 * A kernel tree's top: its Makefile says VERSION and PATCHLEVEL, beside a Kbuild (`arch/x86` has a
 * Makefile and a Kbuild too).
 */
export function isKernelTop(dir: string): boolean {
  if (!existsSync(join(dir, 'Kbuild'))) return false;
  const head = makefileHead(dir);
  return !!head && /^VERSION\s*=/m.test(head) && /^PATCHLEVEL\s*=/m.test(head);
}

/** The start of `dir`'s Makefile, where a kernel's VERSION and PATCHLEVEL are; undefined if it has none. */
export function makefileHead(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, 'Makefile'), 'utf8').slice(0, 4096);
  } catch {
    return undefined;
  }
}

/** `--root` when given, else the tree holding the first path, else the current directory. */
export function rootFor(option: string | undefined, paths: readonly string[]): string {
  if (option !== undefined) return resolve(option);
  return treeTop(paths[0] ?? '.') ?? resolve('.');
}

/**
 * The patch paths are relative to `root`, a kernel tree inside a larger git checkout (a vendor
 * BSP repository holding the kernel in `vendor/kernel`): upstream's paths, but `git apply` and
 * `git am` take paths from the repository's top and silently skip these ("Skipped patch"). What
 * to tell the user then, else undefined.
 */
export function nestedKernelHint(root: string, tool: 'git apply' | 'git am'): string | undefined {
  if (isGitTop(root) || !isKernelTop(root)) return undefined;
  for (const dir of dirsUp(dirname(root))) {
    if (!isGitTop(dir)) continue;
    const sub = relative(dir, root).split(sep).join('/');
    return `the paths are relative to the kernel tree ${sub}/ of the git checkout ${dir}: ${tool} them with --directory=${sub}`;
  }
  return undefined;
}
