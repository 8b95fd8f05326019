/** Unified diffs that `git apply` and `patch -p1` accept. */
import { structuredPatch, type StructuredPatchHunk } from 'diff';

/** `@@ -a,b +c,d @@` as git writes it (`diff` stores an empty range one line further on). */
export function hunkHeader(h: StructuredPatchHunk): string {
  const range = (start: number, len: number) => (len === 0 ? `${start - 1},0` : len === 1 ? `${start}` : `${start},${len}`);
  return `@@ -${range(h.oldStart, h.oldLines)} +${range(h.newStart, h.newLines)} @@`;
}

export function unifiedDiff(path: string, before: string, after: string): string {
  if (before === after) return '';
  const p = structuredPatch(`a/${path}`, `b/${path}`, before, after, '', '', { context: 3 });
  const out = [`diff --git a/${path} b/${path}`, `--- a/${path}`, `+++ b/${path}`];
  for (const h of p.hunks) {
    out.push(hunkHeader(h));
    out.push(...h.lines);
  }
  return out.join('\n') + '\n';
}
