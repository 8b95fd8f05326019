/**
 * In-place writes that are atomic per file: the new text goes to a temp file beside the original,
 * is fsynced, checked against what is on disk, renamed over it, and the directory is fsynced.
 * Whatever happens (a crash, SIGKILL, power loss), the path holds either the old bytes or the
 * new ones; the file keeps its mode and, where we may set it, its owner.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The file is not written, and was left exactly as it was: the reason is the message. */
export class WriteRefused extends Error {}

/** The file was replaced, but its directory could not be fsynced: the rename may not survive a power loss. */
export class NotDurable extends Error {}

/**
 * Suffix of every temp file: never .c or .h, so a walk of the tree (ours, or a build's) never
 * takes a temp file left by a SIGKILL for a source; the leading dot hides it from `ls` and globs.
 */
export const TEMP_SUFFIX = '.tmp';

/**
 * A fresh temp name beside `path`: pid + random, so two gup2pin processes (or two calls in one)
 * never share one. The original name is shortened so the result stays under NAME_MAX (255).
 */
export function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path).slice(0, 200)}.gup2pin-${process.pid}-${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
}

/**
 * Replaces the file at `path` (a symlink: the file it points to, so the link stays a link) with
 * `content`, if its bytes are still exactly `expectedOld` (UTF-8) — else WriteRefused and nothing
 * changes. The temp file is removed on any failure before the rename.
 */
export function writeAtomic(path: string, expectedOld: string, content: string): void {
  writeAtomicAll([{ path, expectedOld, content }]);
}

export interface FileWrite {
  path: string;
  expectedOld: string;
  content: string;
}

interface Staged {
  real: string;
  expected: Buffer;
  tmp: string;
  renamed: boolean;
}

/**
 * Replaces several files together (a pin group linked across files): every new text is written
 * and fsynced to a temp file first, every original checked, and only then are the temp files
 * renamed, one after another. A failure before the renames changes nothing; the renames are the
 * only window in which an interruption leaves some of the files converted.
 */
export function writeAtomicAll(files: readonly FileWrite[]): void {
  const staged: Staged[] = [];
  let journal: string | undefined;
  try {
    for (const f of files) staged.push(stage(f));
    // As late as possible, so the window between the check and the rename is the rename alone.
    for (const s of staged) unchanged(s.real, s.expected);
    // Several files: the renames are journalled, so that a run interrupted among them is
    // finished by the next apply (finishJournal) rather than leave half a pin group converted.
    if (staged.length > 1) journal = writeJournal(staged);
    for (const s of staged) {
      renameSync(s.tmp, s.real);
      s.renamed = true;
      crashPoint();
    }
  } catch (e) {
    for (const s of staged) if (!s.renamed) removeQuietly(s.tmp);
    if (journal && !staged.some((s) => s.renamed)) removeQuietly(journal);
    throw e;
  }
  for (const dir of new Set(staged.map((s) => dirname(s.real)))) syncDirectory(dir);
  if (journal) {
    unlinkSync(journal);
    syncDirectory(dirname(journal));
  }
}

/**
 * For the crash tests only: GUP2PIN_CRASH_AFTER_RENAMES=N kills the process (SIGKILL, nothing
 * cleaned up) after its Nth rename, the one moment a signal handler never sees.
 */
let renames = 0;
function crashPoint(): void {
  const after = Number(process.env.GUP2PIN_CRASH_AFTER_RENAMES);
  if (after > 0 && ++renames === after) process.kill(process.pid, 'SIGKILL');
}

/** One rename of a journal: the temp file, the file it replaces, and both versions' hashes. */
interface JournalEntry {
  tmp: string;
  target: string;
  before: string;
  after: string;
}

const sha = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

/** The journal beside the first file, written whole (temp, fsync, rename) before any rename. */
function writeJournal(staged: readonly Staged[]): string {
  const entries: JournalEntry[] = staged.map((s) => ({ tmp: s.tmp, target: s.real, before: sha(s.expected), after: sha(readFileSync(s.tmp)) }));
  const dir = dirname(staged[0].real);
  const path = join(dir, `.gup2pin-${process.pid}-${randomBytes(6).toString('hex')}.journal`);
  const { fd, tmp } = createTemp(path);
  try {
    writeAll(fd, Buffer.from(JSON.stringify(entries)));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  syncDirectory(dir);
  return path;
}

/**
 * Finishes the renames an interrupted apply journalled: each file still holding its old bytes
 * gets its fsynced temp file; one already renamed is left. Returns the files it wrote; throws
 * WriteRefused (and leaves everything, journal included) if a file changed since, or a temp file
 * is gone before its rename.
 */
export function finishJournal(path: string): string[] {
  let entries: JournalEntry[];
  try {
    entries = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new WriteRefused(`cannot read the journal (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const state = entries.map((e) => {
    const now = sha(readFileSync(e.target));
    if (now === e.after) return 'done';
    if (now !== e.before) throw new WriteRefused(`${e.target} changed since the interrupted apply`);
    if (!existsSync(e.tmp)) throw new WriteRefused(`the new text of ${e.target} is gone`);
    return 'todo';
  });
  const written: string[] = [];
  entries.forEach((e, i) => {
    if (state[i] === 'done') return removeQuietly(e.tmp);
    renameSync(e.tmp, e.target);
    written.push(e.target);
  });
  for (const dir of new Set(entries.map((e) => dirname(e.target)))) syncDirectory(dir);
  unlinkSync(path);
  return written;
}

/** The new text of one file, written and fsynced to a temp file beside it. */
function stage({ path, expectedOld, content }: FileWrite): Staged {
  const real = realpathSync(path);
  const expected = Buffer.from(expectedOld, 'utf8');
  const st = statSync(real);
  if (!st.isFile()) throw new WriteRefused('not a regular file any more');
  // A size that differs refuses before any temp file (unchanged() throws, naming why); the byte
  // compare before the rename is the check that counts.
  if (st.size !== expected.length) unchanged(real, expected);
  const { fd, tmp } = createTemp(real);
  let open = true;
  try {
    keepOwnerAndMode(fd, st);
    writeAll(fd, Buffer.from(content, 'utf8'));
    fsyncSync(fd);
    closeSync(fd);
    open = false;
  } catch (e) {
    if (open) closeSync(fd);
    removeQuietly(tmp);
    throw e;
  }
  return { real, expected, tmp, renamed: false };
}

function removeQuietly(tmp: string): void {
  try {
    unlinkSync(tmp);
  } catch {
    // Already gone (or never reachable): nothing more to clean.
  }
}

/** Throws WriteRefused unless the file's bytes are `expected`. */
function unchanged(path: string, expected: Buffer): void {
  let now: Buffer;
  try {
    now = readFileSync(path);
  } catch (e) {
    throw new WriteRefused(`cannot read it again (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (now.equals(expected)) return;
  // Read as text it is what we planned on, yet the bytes differ: invalid UTF-8 was replaced on
  // decoding, and writing the text back would change bytes nowhere near the conversion.
  if (now.toString('utf8') === expected.toString('utf8')) throw new WriteRefused('not valid UTF-8: it would not be written back byte for byte');
  throw new WriteRefused('changed on disk since it was read');
}

/** An exclusive new temp file (O_EXCL: an existing file is never reused or clobbered). */
function createTemp(path: string): { fd: number; tmp: string } {
  for (let attempt = 0; ; attempt++) {
    const tmp = tempPath(path);
    try {
      return { fd: openSync(tmp, 'wx', 0o600), tmp };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 4) throw e;
    }
  }
}

/**
 * The original's owner (where we may: as root, or a group of ours; like sed -i, an EPERM is not
 * fatal) and then its exact mode — after the chown, which clears set-id bits, and whatever the umask.
 */
function keepOwnerAndMode(fd: number, st: Stats): void {
  const own = fstatSync(fd);
  if (own.uid !== st.uid || own.gid !== st.gid) {
    try {
      fchownSync(fd, st.uid, st.gid);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    }
  }
  fchmodSync(fd, st.mode & 0o7777);
}

function writeAll(fd: number, buf: Buffer): void {
  for (let done = 0; done < buf.length; ) done += writeSync(fd, buf, done, buf.length - done);
}

/** Makes the rename durable; file systems that cannot fsync a directory are not an error. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR') throw new NotDurable(`written, but fsync of its directory failed (${code ?? (e as Error).message})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
