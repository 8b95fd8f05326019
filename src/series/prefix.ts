/**
 * The `prefix:` of a patch subject. Maintainers expect their subsystem's own tag (`RDMA/umem`,
 * `KVM: s390`), which only the history knows; MAINTAINERS and the path are the fallbacks.
 */
import { dirname } from 'node:path/posix';
import type { Section } from './maintainers.ts';

/** The tag of a subject: everything before its last `: `, cut back to tag-like parts. */
export function subjectPrefix(subject: string): string | undefined {
  const i = subject.lastIndexOf(': ');
  if (i <= 0) return undefined;
  const parts = subject.slice(0, i).split(': ');
  // "RDMA/umem: Fix error: foo" → "RDMA/umem"; "Revert "x: y"" has no tag.
  let n = 0;
  while (n < parts.length && /^[^\s"'`]+$/.test(parts[n])) n++;
  return n ? parts.slice(0, n).join(': ') : undefined;
}

/** The most common tag among `subjects` (newest first); a tie goes to the most recent. */
export function prefixFromHistory(subjects: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const s of subjects) {
    const p = subjectPrefix(s);
    if (p) counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  let best: string | undefined;
  for (const [p, n] of counts) if (best === undefined || n > counts.get(best)!) best = p;
  return best;
}

const pathTokens = (files: readonly string[]) => new Set(files.flatMap((f) => f.toLowerCase().split(/[/_.-]/)));

/**
 * From a section name: its own short tag if it has one (`… (KVM/s390)`), else the first word of
 * the name that the paths also use (`VMWARE VMCI DRIVER` for drivers/misc/vmw_vmci → `vmci`).
 */
export function prefixFromSection(section: Section, files: readonly string[]): string | undefined {
  const tag = /\(([^\s()]+)\)\s*$/.exec(section.name);
  if (tag) return tag[1];
  const tokens = pathTokens(files);
  return section.name
    .replace(/\(.*?\)/g, ' ')
    .toLowerCase()
    .split(/[\s,]+/)
    .find((w) => w && tokens.has(w));
}

/** From the path: the directory below drivers/ or arch/ (`drivers/misc/bcm-vk` → `misc/bcm-vk`). */
export function prefixFromPath(file: string): string {
  const dir = dirname(file);
  if (dir === '.') return file.replace(/\.[^.]*$/, '');
  return dir.replace(/^(drivers|arch)\//, '');
}
