/**
 * Find the C files under the given paths and keep the ones worth parsing: a byte search for
 * the API names is ~100× cheaper than parsing, and almost every file fails it.
 */
import { readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { NO_LINKS, type DirIndex, type Listing } from '../cache/dir-index.ts';
import { CANDIDATE_RE } from '../sites/api.ts';
import { leaves } from './root.ts';

/** Directories never descended into: VCS metadata, build output, dependencies. */
const SKIP_DIRS = new Set(['.git', '.hg', '.svn', 'node_modules', '.tmp_versions', '.output', 'build', '.cache']);

/**
 * C sources and headers (`*.c`, `*.h`): the only files gup2pin reads. Asked of every file name in
 * a tree, so without a regular expression.
 */
export function isCFile(name: string): boolean {
  const ext = name.charCodeAt(name.length - 1);
  return name.charCodeAt(name.length - 2) === DOT && (ext === C || ext === H);
}

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
  // Character codes, not one-character strings: a text with any character beyond Latin-1 is
  // stored as UTF-16, where every `text[i]` is a new string (11 of the 439 MB a whole-tree run
  // allocated in one thread).
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === SLASH && text.charCodeAt(i + 1) === STAR) i = endOf(text.indexOf('*/', i + 2), text, 1);
    else if (c === SLASH && text.charCodeAt(i + 1) === SLASH) i = endOf(text.indexOf('\n', i + 2), text, 0);
    else if (c === DOUBLE_QUOTE || c === QUOTE) i = closingQuote(text, i);
    else if (c === OPEN_BRACE) depth++;
    else if (c === CLOSE_BRACE) depth = Math.max(0, depth - 1);
    else if ((depth > 0 || !inBody) && (c === G || c === P || c === UNDERSCORE) && !isWordChar(text.charCodeAt(i - 1))) {
      CANDIDATE_AT.lastIndex = i;
      if (CANDIDATE_AT.test(text)) return true;
    }
  }
  return false;
}

/** The character codes the scans here compare with. */
const [SLASH, STAR, DOUBLE_QUOTE, QUOTE, OPEN_BRACE, CLOSE_BRACE, G, P, UNDERSCORE, NEWLINE, BACKSLASH, DOT, C, H] = [...'/*"\'{}gp_\n\\.ch'].map((ch) => ch.charCodeAt(0));

/** `\w` (without the `u` flag) of a character code; false for NaN, before the text's start. */
const isWordChar = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === UNDERSCORE;

/** The index to continue from after a comment ending at `at` (+ `extra`), or the text's end. */
const endOf = (at: number, text: string, extra: number) => (at < 0 ? text.length : at + extra);

/** Index of the quote closing the literal opened at `from` (or of the line's end). */
function closingQuote(text: string, from: number): number {
  const quote = text.charCodeAt(from);
  let i = from + 1;
  for (let c = text.charCodeAt(i); i < text.length && c !== quote && c !== NEWLINE; c = text.charCodeAt(i)) i += c === BACKSLASH ? 2 : 1;
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
  /** The entries of directories unchanged since an earlier run, which then are not listed again. */
  dirs?: DirIndex;
}

/** All .c/.h files under `paths` (absolute, sorted), never following a symlink out of its root. */
export function walk(paths: string[], { show = (path) => path, onFile, dirs }: WalkOptions = {}): WalkResult {
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
    else if (st.isDirectory()) visit(abs, { given: abs, real: realpathSync(abs), dirs }, files, problem);
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
 * visit) and each once, so they are kept as found. A symlinked file is found at its target's
 * path, out of that order (the 6.1 tree has 50): such files are kept aside and merged in at the
 * end. Only what breaks the order otherwise (a second path) needs the duplicates taken out and a
 * sort of everything.
 */
class FoundFiles {
  private readonly paths: string[] = [];
  private readonly linked: string[] = [];
  private inOrder = true;
  readonly journals = new Set<string>();

  constructor(private readonly onFile?: (count: number) => void) {}

  add(path: string): void {
    const last = this.paths[this.paths.length - 1];
    if (last !== undefined && !(last < path)) this.inOrder = false;
    this.paths.push(path);
    this.onFile?.(this.paths.length + this.linked.length);
  }

  /** A file found through a symlink, at its target's path. */
  addLinked(path: string): void {
    this.linked.push(path);
    this.onFile?.(this.paths.length + this.linked.length);
  }

  /** Every file once, sorted. */
  sorted(): string[] {
    const found = this.inOrder ? this.paths : sortedOnce(this.paths);
    return this.linked.length ? mergeSorted(found, sortedOnce(this.linked)) : found;
  }
}

const sortedOnce = (paths: string[]) => [...new Set(paths)].sort();

/** Two sorted lists of distinct paths as one, each path once. */
function mergeSorted(a: string[], b: string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] < b[j]) out.push(a[i++]);
    else if (b[j] < a[i]) out.push(b[j++]);
    else (out.push(a[i++]), j++);
  }
  while (i < a.length) out.push(a[i++]);
  while (j < b.length) out.push(b[j++]);
  return out;
}

/** A directory named on the command line: as given (what paths are built from), and resolved. */
interface Root {
  given: string;
  real: string;
  dirs?: DirIndex;
}

function visit(dir: string, root: Root, files: FoundFiles, problem: ProblemAt) {
  const st = root.dirs?.stat(dir);
  let listing = st && root.dirs!.unchanged(dir, st);
  if (!listing) {
    try {
      listing = list(dir);
    } catch (e) {
      problem(dir, cannot('read directory', e));
      return;
    }
    if (st) root.dirs!.record(dir, st, listing);
  }
  // `dir` is absolute and normal already: path.join() would spend a third of the walk
  // normalising it again.
  const prefix = dir.endsWith(sep) ? dir : dir + sep;
  const { keys, links } = listing;
  for (const key of keys) {
    if (key.endsWith(sep)) visit(prefix + key.slice(0, -1), root, files, problem);
    else if (links.has(key)) symlink(prefix + key, isCFile(key), root, files, problem);
    else if (isCFile(key)) files.add(prefix + key);
    else files.journals.add(prefix + key);
  }
}

/**
 * The entries of a directory the walk needs, sorted. A directory sorts as its name and a
 * separator, so the files below it come out where a sort of whole paths puts them: `b/x.c` after
 * `b-y.c` ('/' > '-'). The keys are sorted as plain strings (the walk's hot loop: 84,000 entries
 * in the 6.1 tree).
 */
function list(dir: string): Listing {
  const keys: string[] = [];
  let links: Set<string> | undefined;
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    if (ent.isDirectory()) {
      if (!SKIP_DIRS.has(ent.name)) keys.push(ent.name + sep);
    } else if (ent.isFile()) {
      if (isCFile(ent.name) || JOURNAL_RE.test(ent.name)) keys.push(ent.name);
    } else if (ent.isSymbolicLink()) {
      keys.push(ent.name);
      (links ??= new Set()).add(ent.name);
    }
  }
  keys.sort();
  return { keys, links: links ?? NO_LINKS };
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
  if (leaves(rel)) {
    if (cFile || st.isDirectory()) problem(link, 'symlink leaves the tree: not followed');
  } else if (cFile && st.isFile()) {
    files.addLinked(join(root.given, rel));
  }
}
