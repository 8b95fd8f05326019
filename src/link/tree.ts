/**
 * The kernel tree that holds the given paths: where the callers of a file's helpers are searched
 * for, even outside the paths themselves.
 */
import { existsSync } from 'node:fs';
import { dirsUp, isKernelTop } from '../discover/root.ts';

/**
 * The kernel tree of the first path there: the nearest directory above it that is a kernel tree's top
 * (by the test --root uses: a git checkout's top is one, and `arch/x86`, with a Makefile and a
 * Kbuild of its own, is not); undefined outside a kernel tree (then only the paths are searched:
 * a driver copied into another project's repository must not be linked with that project's files).
 */
export function kernelTreeOf(paths: string[]): string | undefined {
  // The first path that is there: a missing one says nothing of where the tree is.
  const given = paths.find((p) => existsSync(p));
  if (given === undefined) return undefined;
  for (const dir of dirsUp(given)) if (isKernelTop(dir)) return dir;
  return undefined;
}
