/**
 * The byte prefilter: every C file under the paths is read once and almost all are dropped on a
 * byte search, before any decoding. On the 6.1 tree that is 55,000 files and 1.18 GB, of which
 * about 200 hold the search word; reading is most of a cold run's cost, so it is done with as few
 * system calls and copies as the kernel allows (one open, one read, one close for all but the
 * largest files, into one buffer per thread).
 */
import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** Read size, and the one buffer per thread every file is read into. */
const CHUNK = 1 << 20;
const scratch = Buffer.allocUnsafe(CHUNK);

/**
 * The bytes searched for: a substring of every API name a candidate must call (see
 * CANDIDATE_RE). Seven bytes, not `_user_page`: Node's search finds a needle shorter than eight
 * bytes by memchr on its first byte, twice as fast here as its Boyer-Moore for longer ones, and
 * `u` is rarer in C than `_`.
 */
export const CANDIDATE_BYTES = Buffer.from('user_pa');

/**
 * A file's bytes if they hold `needle`, else null; `opened` hears the file's stat first. The
 * returned buffer may be the thread's scratch buffer: it is valid until the next call. A file
 * larger than one read is searched a chunk at a time, each overlapping the previous by the
 * needle's length less one (so a needle across the boundary is found), and read whole only if the
 * needle is there: the register headers of amdgpu (83 files over 1 MiB in 6.1, a third of the
 * tree's bytes) are read once.
 */
export function readIfHolds(path: string, needle: Buffer, opened?: (st: Stats) => void): Buffer | null {
  const fd = openSync(path, 'r');
  try {
    // Taken before the read: a change while it reads gives the file a later stat than the one kept.
    opened?.(fstatSync(fd));
    let filled = readSync(fd, scratch, 0, CHUNK, 0);
    if (filled < CHUNK) {
      const bytes = scratch.subarray(0, filled);
      return bytes.indexOf(needle) >= 0 ? bytes : null;
    }
    const keep = needle.length - 1;
    // File offset of the byte after the last one in the buffer.
    let offset = filled;
    for (;;) {
      if (scratch.subarray(0, filled).indexOf(needle) >= 0) return readAll(fd);
      scratch.copy(scratch, 0, filled - keep, filled);
      const got = readSync(fd, scratch, keep, CHUNK - keep, offset);
      if (got === 0) return null;
      offset += got;
      filled = keep + got;
    }
  } finally {
    closeSync(fd);
  }
}

/** A whole file, read at its size (which a file being written can change under us: read to EOF). */
export function readBytes(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    return readAll(fd);
  } finally {
    closeSync(fd);
  }
}

function readAll(fd: number): Buffer {
  let buf = Buffer.allocUnsafe(Math.max(fstatSync(fd).size + 1, 4096));
  let filled = 0;
  for (;;) {
    if (filled === buf.length) {
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger);
      buf = bigger;
    }
    const got = readSync(fd, buf, filled, buf.length - filled, filled);
    if (got === 0) return buf.subarray(0, filled);
    filled += got;
  }
}
