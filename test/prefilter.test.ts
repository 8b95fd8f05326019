/**
 * The byte prefilter (src/discover/prefilter.ts): a file is read in chunks of 1 MiB and dropped
 * unless it holds the search word anywhere, across a chunk boundary too; one that does is read whole.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CANDIDATE_BYTES, readBytes, readIfHolds } from '../src/discover/prefilter.ts';
import { scratchDir } from './helpers.ts';

const MiB = 1 << 20;
const WORD = CANDIDATE_BYTES.toString();

/** A file of `size` bytes of filler with the search word at `at` (if given). */
function file(size: number, at?: number): { path: string; bytes: Buffer } {
  const bytes = Buffer.alloc(size, 'x');
  if (at !== undefined) bytes.write(WORD, at);
  const path = join(scratchDir('gup2pin-prefilter-'), 'f.c');
  writeFileSync(path, bytes);
  return { path, bytes };
}

describe('readIfHolds', () => {
  it.each([
    ['a small file with the word', 100, 10],
    ['a large file with the word in its first chunk', 3 * MiB, 5],
    ['a large file with the word across the first chunk boundary', 3 * MiB, MiB - 3],
    ['a large file with the word across the second chunk boundary', 3 * MiB, 2 * MiB - 6 - 3],
    ['a large file with the word at its very end', 3 * MiB + 7, 3 * MiB],
    ['a file of exactly one chunk, the word last', MiB, MiB - WORD.length],
  ])('finds %s and gives the whole file', (_, size, at) => {
    const { path, bytes } = file(size, at);
    expect(Buffer.compare(readIfHolds(path, CANDIDATE_BYTES)!, bytes)).toBe(0);
  });

  it.each([
    ['a small file', 100],
    ['an empty file', 0],
    ['a file of exactly one chunk', MiB],
    ['a large file', 3 * MiB + 5],
  ])('drops %s without the word', (_, size) => {
    expect(readIfHolds(file(size).path, CANDIDATE_BYTES)).toBeNull();
  });

  it('tells the file’s stat before reading', () => {
    const { path } = file(10, 0);
    let size = -1;
    readIfHolds(path, CANDIDATE_BYTES, (st) => (size = st.size));
    expect(size).toBe(10);
  });

  it('reads a whole file with readBytes', () => {
    const { path, bytes } = file(2 * MiB + 1, 17);
    expect(Buffer.compare(readBytes(path), bytes)).toBe(0);
  });
});
