/** In-place writes that are atomic per file: temp file beside it, fsync, rename, mode kept. */
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function writeAtomic(path: string, expectedOld: string, content: string): void {
  const st = statSync(path);
  // Refuse to clobber a file someone edited since we read it.
  if (readFileSync(path, 'utf8') !== expectedOld) throw new Error('changed on disk since it was read');
  const tmp = join(dirname(path), `.${basename(path)}.gup2pin-${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', st.mode & 0o7777);
  try {
    fchmodSync(fd, st.mode & 0o7777); // exact mode, whatever the umask
    writeSync(fd, content);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}
