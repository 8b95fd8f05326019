/**
 * Unified diffs as git prints them, which `git apply` and `patch -p1` accept: hunks placed by
 * git's rules (hunks.ts) and headed with the function they are in, so `gup2pin diff`, the patch
 * series and `git diff` after `gup2pin apply` show a reviewer the same hunks.
 */
import type { StructuredPatchHunk } from 'diff';
import { functionLine, type FuncnameRule } from './funcname.ts';
import { gitHunks } from './hunks.ts';

/** `@@ -a,b +c,d @@` as git writes it (`diff` stores an empty range one line further on). */
export function hunkHeader(h: StructuredPatchHunk): string {
  const range = (start: number, len: number) => (len === 0 ? `${start - 1},0` : len === 1 ? `${start}` : `${start},${len}`);
  return `@@ -${range(h.oldStart, h.oldLines)} +${range(h.newStart, h.newLines)} @@`;
}

/**
 * The hunks of one file, each under its header (named by `rule`, the file's: see funcname.ts),
 * and how many lines they add and delete.
 */
export function diffHunks(before: string, after: string, rule: FuncnameRule = 'default'): { lines: string[]; added: number; deleted: number } {
  const oldLines = before.split('\n');
  const lines: string[] = [];
  let added = 0;
  let deleted = 0;
  for (const h of gitHunks(before, after)) {
    lines.push(withFunctionName(hunkHeader(h), oldLines, rule), ...h.lines);
    for (const l of h.lines) {
      if (l.startsWith('+')) added++;
      else if (l.startsWith('-')) deleted++;
    }
  }
  return { lines, added, deleted };
}

/** The `diff --git` header of one file, with git's `index` line when there is one. */
export function fileHeader(path: string, index?: string): string[] {
  return [`diff --git a/${path} b/${path}`, ...(index ? [`index ${index}`] : []), `--- a/${path}`, `+++ b/${path}`];
}

export function unifiedDiff(path: string, before: string, after: string, rule: FuncnameRule = 'default'): string {
  if (before === after) return '';
  return [...fileHeader(path), ...diffHunks(before, after, rule).lines].join('\n') + '\n';
}

/**
 * `@@ -a,b +c,d @@ func`: git names the nearest line above the hunk that the file's funcname rule
 * takes, so reviewers see the function.
 */
function withFunctionName(header: string, oldLines: readonly string[], rule: FuncnameRule): string {
  const m = /^@@ -(\d+)(?:,(\d+))? /.exec(header);
  if (!m) return header;
  const first = m[2] === '0' ? Number(m[1]) : Number(m[1]) - 1; // 0-based first line of the hunk
  for (let l = first - 1; l >= 0; l--) {
    const func = functionLine(oldLines[l], rule);
    if (func !== undefined) return `${header} ${func}`;
  }
  return header;
}
