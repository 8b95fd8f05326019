/**
 * Find the C files under the given paths and keep the ones worth parsing: a byte search for
 * the API names is ~100× cheaper than parsing, and almost every file fails it.
 */
import { readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { CANDIDATE_RE } from '../sites/api.ts';

/** Directories never descended into: VCS metadata, build output, dependencies. */
const SKIP_DIRS = new Set(['.git', '.hg', '.svn', 'node_modules', '.tmp_versions', '.output', 'build', '.cache']);

/** C sources and headers: the only files gup2pin reads. */
export const C_FILE_RE = /\.[ch]$/;

/** CANDIDATE_RE anchored at `lastIndex`. */
const CANDIDATE_AT = new RegExp(CANDIDATE_RE.source.replace(/^\\b/, ''), 'y');

/**
 * Whether the text calls an API name in its code, not in comments, strings or character
 * constants: mm/vmscan.c, fs/xfs/xfs_inode.c and a third of the 6.1 candidates only mention
 * get_user_pages() in comments, and parsing them finds nothing. With `inBody` (a header), the
 * call must be inside a function body (an inline function), not a prototype: include/linux/mm.h
 * has both, most headers only prototypes.
 */
export function callsApi(text: string, inBody: boolean): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '/' && text[i + 1] === '*') i = endOf(text.indexOf('*/', i + 2), text, 1);
    else if (c === '/' && text[i + 1] === '/') i = endOf(text.indexOf('\n', i + 2), text, 0);
    else if (c === '"' || c === "'") i = closingQuote(text, i);
    else if (c === '{') depth++;
    else if (c === '}') depth = Math.max(0, depth - 1);
    else if ((depth > 0 || !inBody) && (c === 'g' || c === 'p' || c === '_') && !/\w/.test(text[i - 1] ?? '')) {
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
  /** As the user should see it. */
  path: string;
  reason: string;
}

export interface WalkResult {
  files: string[];
  problems: WalkProblem[];
  /** Journals of an apply interrupted while it renamed the files of one linked unit. */
  journals: string[];
}

/** The name of such a journal (see src/emit/apply.ts): hidden, never a .c/.h. */
export const JOURNAL_RE = /^\.gup2pin-\d+-[0-9a-f]+\.journal$/;

export interface WalkOptions {
  /** How to show a path found in a tree in a problem (paths named by the user are shown as given). */
  show?: (path: string) => string;
  /** Hears of each file as it is found, with the count so far (the runner starts threads on a big tree). */
  onFile?: (count: number) => void;
}

/** All .c/.h files under `paths` (absolute, sorted), never following a symlink out of its root. */
export function walk(paths: string[], { show = (path) => path, onFile }: WalkOptions = {}): WalkResult {
  const files = new FoundFiles(onFile);
  const problems: WalkProblem[] = [];
  const problem: ProblemAt = (path, reason) => problems.push({ path: show(path), reason });
  for (const p of paths) {
    const abs = resolve(p);
    let st;
    try {
      st = statSync(abs);
    } catch (e) {
      problems.push({ path: p, reason: cannot('read', e) });
      continue;
    }
    // A path named on the command line is used even if it is a symlink, or not called *.c.
    if (st.isFile()) files.add(abs);
    else if (st.isDirectory()) visit(abs, { given: abs, real: realpathSync(abs) }, files, problem);
    else problems.push({ path: p, reason: 'not a regular file or directory: skipped' });
  }
  return { files: files.sorted(), problems, journals: [...files.journals].sort() };
}

/** Records a problem with a path found in a tree. */
type ProblemAt = (path: string, reason: string) => void;

/** Why a file system call failed, for a problem line: `cannot read (EACCES)`. */
export function cannot(what: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file or directory';
  return `cannot ${what} (${code ?? (e as Error).message})`;
}

/**
 * The files found so far, counted out loud. A tree's walk finds them in sorted order (see
 * visit) and each once, so they are kept as found; only what breaks that order (a second path, a
 * symlinked file) needs the duplicates taken out and a sort at the end.
 */
class FoundFiles {
  private readonly paths: string[] = [];
  private inOrder = true;
  readonly journals = new Set<string>();

  constructor(private readonly onFile?: (count: number) => void) {}

  add(path: string): void {
    const last = this.paths[this.paths.length - 1];
    if (last !== undefined && !(last < path)) this.inOrder = false;
    this.paths.push(path);
    this.onFile?.(this.paths.length);
  }

  /** Every file once, sorted. */
  sorted(): string[] {
    if (this.inOrder) return this.paths;
    return [...new Set(this.paths)].sort();
  }
}

/** A directory named on the command line: as given (what paths are built from), and resolved. */
interface Root {
  given: string;
  real: string;
}

function visit(dir: string, root: Root, files: FoundFiles, problem: ProblemAt) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    problem(dir, cannot('read directory', e));
    return;
  }
  // A directory sorts as its name and a separator, so the files below it come out where a sort
  // of whole paths puts them: `b/x.c` after `b-y.c` ('/' > '-').
  const keyed = entries.map((ent) => ({ ent, key: ent.isDirectory() ? ent.name + sep : ent.name }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const { ent } of keyed) {
    // `dir` is absolute and normal already: path.join() would spend a third of the walk
    // normalising it again.
    const full = dir.endsWith(sep) ? dir + ent.name : dir + sep + ent.name;
    if (ent.isDirectory()) {
      if (!SKIP_DIRS.has(ent.name)) visit(full, root, files, problem);
    } else if (ent.isFile()) {
      if (C_FILE_RE.test(ent.name)) files.add(full);
      else if (JOURNAL_RE.test(ent.name)) files.journals.add(full);
    } else if (ent.isSymbolicLink()) {
      symlink(full, C_FILE_RE.test(ent.name), root, files, problem);
    }
  }
}

/**
 * A symlink in the tree. One to a C file inside the tree is read at the target's own path, so
 * the file is converted once and `apply` replaces the file, not the link. A directory symlink
 * is never descended: inside the tree its files are walked at their real paths anyway.
 * Leaving the tree is reported for C files and directories (files that could hold GUP calls).
 */
function symlink(link: string, cFile: boolean, root: Root, files: FoundFiles, problem: ProblemAt) {
  let target: string;
  let st: Stats;
  try {
    target = realpathSync(link);
    st = statSync(target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (cFile) problem(link, code === 'ENOENT' ? 'dangling symlink' : `cannot resolve symlink (${code ?? (e as Error).message})`);
    return;
  }
  const rel = relative(root.real, target);
  // Not startsWith('..'): `..foo.c` is a fine name inside the tree.
  const outside = rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  if (outside) {
    if (cFile || st.isDirectory()) problem(link, 'symlink leaves the tree: not followed');
  } else if (cFile && st.isFile()) {
    files.add(join(root.given, rel));
  }
}
