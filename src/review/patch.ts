/**
 * Input side of `verify --patch`: the before/after text of each C file a patch touches.
 * before = the file in the tree, after = the same file with the patch applied in memory
 * (the tree is only read). Parsing and applying are `diff`'s parsePatch/applyPatch.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { applyPatch, parsePatch, type StructuredPatch } from 'diff';
import { isCFile } from '../discover/walk.ts';
import { hunkHeader } from '../emit/diff.ts';

export interface PatchedFile {
  /** Absolute path in the tree. */
  path: string;
  /** Path as named in the patch, relative to root (e.g. drivers/infiniband/core/umem.c). */
  display: string;
  before: string;
  after: string;
}

export interface PatchProblem {
  path: string;
  reason: string;
}

const DEV_NULL = '/dev/null';

/**
 * parsePatch skips any text before a file's ---/+++ lines (mail headers, commit message,
 * diffstat) but throws on text after a file's last hunk unless it starts another file diff.
 * A format-patch mail puts its `-- ` signature there and, in a concatenated series, the
 * next mail follows: blank the lines from a signature or mbox `From ` line to the next file
 * diff (blanked, not removed, so parsePatch's line numbers in errors stay right).
 * Inside a hunk every line starts with ' ', '+', '-' or '\', so only a removed "- " line
 * could be taken for a signature, and that then fails to parse or apply rather than silently.
 */
function blankMailTrailers(text: string): string {
  const lines = text.split('\n');
  const startsFileDiff = (i: number) =>
    /^(diff |Index: )/.test(lines[i]) || (lines[i].startsWith('--- ') && (lines[i + 1] ?? '').startsWith('+++ '));
  let skipping = false;
  return lines
    .map((line, i) => {
      if (line === '-- ' || line.startsWith('From ')) skipping = true;
      else if (skipping && startsFileDiff(i)) skipping = false;
      return skipping ? '' : line;
    })
    .join('\n');
}

/** `git apply` / `patch -p1`: drop the a/ and b/ prefixes only when the diff uses them. */
function names(p: StructuredPatch): [string, string] {
  const [oldName, newName] = [p.oldFileName, p.newFileName];
  const prefixed =
    (oldName === DEV_NULL || oldName.startsWith('a/')) && (newName === DEV_NULL || newName.startsWith('b/'));
  const strip = (n: string) => (prefixed && n !== DEV_NULL ? n.slice(2) : n);
  return [strip(oldName), strip(newName)];
}

function refusal(name: string, root: string): PatchProblem | undefined {
  if (name === DEV_NULL) return undefined;
  if (isAbsolute(name)) return { path: name, reason: 'absolute path in the patch: refused' };
  if (relative(root, resolve(root, name)).split(sep)[0] === '..') return { path: name, reason: 'path leaves the tree: refused' };
  return undefined;
}

/** applyPatch only says false: re-apply growing prefixes of the hunks to name the first that fails. */
function failingHunk(source: string, p: StructuredPatch): string {
  for (let i = 0; i < p.hunks.length; i++) {
    if (applyPatch(source, { ...p, hunks: p.hunks.slice(0, i + 1) }) === false) {
      return `hunk ${i + 1} (${hunkHeader(p.hunks[i])}) does not apply`;
    }
  }
  return 'does not apply';
}

function readTree(abs: string, root: string): string | { reason: string } {
  try {
    return readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { reason: code === 'ENOENT' ? `not found under ${root}` : `cannot read (${code ?? (e as Error).message})` };
  }
}

export function filesFromPatch(patchText: string, root: string): { files: PatchedFile[]; problems: PatchProblem[] } {
  let parsed: StructuredPatch[];
  try {
    // Nameless entries are text with no ---/+++: a cover letter, or trailing git headers of a pure rename.
    parsed = parsePatch(blankMailTrailers(patchText)).filter((p) => p.oldFileName && p.newFileName);
  } catch (e) {
    return { files: [], problems: [{ path: '-', reason: `cannot parse the patch: ${(e as Error).message}` }] };
  }
  if (!parsed.length) return { files: [], problems: [{ path: '-', reason: 'no file diffs in the patch' }] };

  // Keyed by the name after the diff, so a later diff in a series applies on top of an earlier one.
  const files = new Map<string, PatchedFile>();
  // After a failed diff, a later one to the same file must not be applied to the tree's version.
  const failed = new Set<string>();
  const problems: PatchProblem[] = [];
  for (const p of parsed) {
    const [oldName, newName] = names(p);
    if (newName === DEV_NULL) {
      files.delete(oldName);
      continue;
    }
    if (!isCFile(newName) || failed.has(oldName)) continue;
    const fail = (path: string, reason: string) => {
      problems.push({ path, reason });
      failed.add(newName);
      files.delete(oldName);
    };
    const refused = refusal(oldName, root) ?? refusal(newName, root);
    if (refused) {
      fail(refused.path, refused.reason);
      continue;
    }
    const earlier = files.get(oldName);
    const source = earlier ? earlier.after : oldName === DEV_NULL ? '' : readTree(resolve(root, oldName), root);
    if (typeof source !== 'string') {
      fail(newName, source.reason);
      continue;
    }
    const after = applyPatch(source, p, { fuzzFactor: 0 });
    if (after === false) {
      fail(newName, failingHunk(source, p));
      continue;
    }
    files.delete(oldName);
    files.set(newName, { path: resolve(root, newName), display: newName, before: earlier?.before ?? source, after });
  }
  return { files: [...files.values()], problems };
}
