/**
 * Which files go into which patch: one per MAINTAINERS section by default (the people who will
 * apply it), one per directory when the tree has no MAINTAINERS (or the file only falls under a
 * catch-all like THE REST), or one per file.
 */
import { dirname } from 'node:path/posix';
import type { ConvertedFile } from './converted.ts';
import { primarySection, type Maintainers, type Section } from './maintainers.ts';

export type Split = 'file' | 'dir' | 'section';

export interface PatchGroup {
  files: ConvertedFile[];
  /** The MAINTAINERS section the patch is for (split 'section'). */
  section?: Section;
}

/** git's path order (bytewise), not the locale's. */
export const byPath = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The patches a series is made of, ordered by path; files without a change are left out. */
export function groupFiles(files: readonly ConvertedFile[], split: Split, maintainers?: Maintainers): PatchGroup[] {
  const groups = new Map<string, PatchGroup>();
  // A pin group linked across files converts whole, so its files go in one patch: the patch of
  // its first file (To/Cc, computed from the patch, then name the other files' people too).
  const unitKeys = new Map<string, string>();
  for (const file of [...files].sort((a, b) => byPath(a.path, b.path))) {
    if (file.after === file.before) continue;
    const section = split === 'section' && maintainers ? primarySection(maintainers, file.path) : undefined;
    const own = section ? `section:${section.order}` : split === 'file' ? `file:${file.path}` : `dir:${dirname(file.path)}`;
    const key = (file.unit && unitKeys.get(file.unit)) ?? own;
    if (file.unit) unitKeys.set(file.unit, key);
    const group = groups.get(key) ?? { files: [], section };
    group.files.push(file);
    groups.set(key, group);
  }
  // Files were visited in path order, so each group's first file is its smallest path.
  return [...groups.values()].sort((a, b) => byPath(a.files[0].path, b.files[0].path));
}
