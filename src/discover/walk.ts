/**
 * Find the C files under the given paths and keep the ones worth parsing: a byte search for
 * the API names is ~100× cheaper than parsing, and almost every file fails it.
 */
import { lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';

/** Directories never descended into: VCS metadata, build output, dependencies. */
const SKIP_DIRS = new Set(['.git', '.hg', '.svn', 'node_modules', '.tmp_versions', '.output', 'build', '.cache']);

/** C sources and headers: the only files gup2pin reads. */
export const C_FILE_RE = /\.[ch]$/;

export const CANDIDATE_RE = /\b(?:__get_user_pages_fast|get_user_pages\w*|pin_user_pages\w*|put_user_pages?\w*)\s*\(/;

/** A substring of every name CANDIDATE_RE matches: searched for in the raw bytes first. */
export const CANDIDATE_BYTES = Buffer.from('_user_page');

/** CANDIDATE_RE anchored at `lastIndex`. */
const CANDIDATE_AT = new RegExp(CANDIDATE_RE.source.replace(/^\\b/, ''), 'y');

/**
 * Whether a header calls an API name inside a function body (an inline function), rather than
 * only declaring it: include/linux/mm.h has both, most headers only prototypes, and parsing
 * those finds nothing. Braces are counted outside comments, strings and character constants.
 */
export function callsInBody(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '/' && text[i + 1] === '*') i = endOf(text.indexOf('*/', i + 2), text, 1);
    else if (c === '/' && text[i + 1] === '/') i = endOf(text.indexOf('\n', i + 2), text, 0);
    else if (c === '"' || c === "'") i = closingQuote(text, i);
    else if (c === '{') depth++;
    else if (c === '}') depth = Math.max(0, depth - 1);
    else if (depth > 0 && (c === 'g' || c === 'p' || c === '_') && !/\w/.test(text[i - 1] ?? '')) {
      CANDIDATE_AT.lastIndex = i;
      if (CANDIDATE_AT.test(text)) return true;
    }
  }
  return false;
}

/** The index to continue from after a comment ending at `at` (+ `extra`), or the text's end. */
const endOf = (at: number, text: string, extra: number) => (at < 0 ? text.length : at + extra);

/** Index of the quote closing the literal opened at `from` (or of the line's end). */
function closingQuote(text: string, from: number): number {
  let i = from + 1;
  while (i < text.length && text[i] !== text[from] && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
  return i;
}

export interface WalkProblem {
  path: string;
  reason: string;
}

export interface WalkResult {
  files: string[];
  problems: WalkProblem[];
}

/**
 * All .c/.h files under `paths`, sorted, never following a symlink out of its root.
 * `onFile(count)` hears of each file as it is found (the runner starts threads on a big tree).
 */
export function walk(paths: string[], onFile?: (count: number) => void): WalkResult {
  const files = new FoundFiles(onFile);
  const problems: WalkProblem[] = [];
  for (const p of paths) {
    const abs = resolve(p);
    let st;
    try {
      st = statSync(abs);
    } catch (e) {
      problems.push({ path: p, reason: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message });
      continue;
    }
    if (st.isFile()) files.add(abs);
    else if (st.isDirectory()) visit(abs, realpathSync(abs), files, problems);
  }
  return { files: [...files.paths].sort(), problems };
}

/** The files found so far, without duplicates, counted out loud. */
class FoundFiles {
  readonly paths = new Set<string>();

  constructor(private readonly onFile?: (count: number) => void) {}

  add(path: string): void {
    if (this.paths.has(path)) return;
    this.paths.add(path);
    this.onFile?.(this.paths.size);
  }
}

function visit(dir: string, root: string, files: FoundFiles, problems: WalkProblem[]) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    problems.push({ path: dir, reason: `cannot read directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const ent of entries) {
    // `dir` is absolute and normal already: path.join() would spend a third of the walk
    // normalising it again.
    const full = dir.endsWith(sep) ? dir + ent.name : dir + sep + ent.name;
    if (ent.isDirectory()) {
      if (!SKIP_DIRS.has(ent.name)) visit(full, root, files, problems);
    } else if (ent.isFile()) {
      if (C_FILE_RE.test(ent.name)) files.add(full);
    } else if (ent.isSymbolicLink() && C_FILE_RE.test(ent.name)) {
      try {
        const target = realpathSync(full);
        const rel = relative(root, target);
        if (rel.startsWith('..') || rel.startsWith(sep)) problems.push({ path: full, reason: 'symlink leaves the tree: not followed' });
        else if (lstatSync(target).isFile()) files.add(full);
      } catch {
        problems.push({ path: full, reason: 'dangling symlink' });
      }
    }
  }
}
