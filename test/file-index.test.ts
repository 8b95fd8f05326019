/**
 * The file index (src/cache/file-index.ts): with the result cache, a file an earlier run found
 * without the prefilter's bytes is only stat'ed, and read again as soon as its stat changes or
 * could hide a change.
 */
import { mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileIndex, SlotView } from '../src/cache/file-index.ts';
import { resultCacheJob } from '../src/cache/results.ts';
import { run } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { later, read, scratchDir } from './helpers.ts';

const api = apiFor(parseVersion('6.1'));
/** A C file with nothing for the prefilter. */
const PLAIN = '// SPDX-License-Identifier: GPL-2.0\n#include <linux/module.h>\n\nstatic int foo_probe(void)\n{\n\treturn 0;\n}\n';

/** A tree of two files, a cache beside it, and a run over the tree with that cache. */
function setUp() {
  const dir = scratchDir('gup2pin-index-');
  mkdirSync(join(dir, 'drivers'));
  const candidate = read('plain-loop', 'before.c');
  // As long as the candidate, so that one can replace the other without changing the size.
  writeFileSync(join(dir, 'drivers', 'a.c'), PLAIN + '/*' + ' '.repeat(candidate.length - PLAIN.length - 5) + '*/\n');
  writeFileSync(join(dir, 'drivers', 'b.c'), candidate);
  const cache = { dir: join(dir, '.cache'), build: 'test' };
  const diffed = async () => {
    const result = await run([join(dir, 'drivers')], api, dir, { cache });
    return result.files.filter((f) => f.output !== f.original).map((f) => f.display);
  };
  /** The index file of runs over `drivers` (there is one once a run kept a file). */
  const indexFile = () => {
    const results = join(cache.dir, 'results', cache.build);
    return join(results, readdirSync(results).find((n) => n.startsWith('files-'))!);
  };
  return { dir, cache, diffed, indexFile, file: (name: string) => join(dir, 'drivers', name) };
}

/** The index of a run over `drivers`: each file it knows, by path. */
function indexed(cache: { dir: string; build: string }, paths: string[], files: string[]): boolean[] {
  const job = resultCacheJob(cache, 'unused')!;
  const view = new SlotView(FileIndex.load(job, paths).slots(files));
  return files.map((_, i) => view.known(i));
}

describe('file index', () => {
  it('keeps the files without the bytes, once their stat is old enough to trust', async () => {
    const t = setUp();
    const files = [t.file('a.c'), t.file('b.c')];
    const paths = [join(t.dir, 'drivers')];
    // Just written: its mtime and ctime are this run's, and a change within the tick would not show.
    expect(await t.diffed()).toEqual(['drivers/b.c']);
    expect(indexed(t.cache, paths, files)).toEqual([false, false]);
    // Seen from ten seconds on, the same stat is trusted; the candidate is never kept.
    later();
    expect(await t.diffed()).toEqual(['drivers/b.c']);
    expect(indexed(t.cache, paths, files)).toEqual([true, false]);
  });

  it('reads a kept file again when its stat changes, even back to the same size and mtime', async () => {
    const t = setUp();
    later();
    const a = t.file('a.c');
    // A whole second: what utimes() sets back is then exactly what stat() said.
    utimesSync(a, 1_700_000_000, 1_700_000_000);
    await t.diffed();
    const before = statSync(a);
    // The same number of bytes, now with a conversion in it, and the old mtime put back: only
    // the ctime (which nothing can set back) tells.
    const candidate = read('plain-loop', 'before.c');
    writeFileSync(a, candidate);
    expect(statSync(a).size).toBe(before.size);
    writeFileSync(t.file('b.c'), PLAIN);
    utimesSync(a, 1_700_000_000, 1_700_000_000);
    expect(statSync(a).mtimeMs).toBe(before.mtimeMs);
    later();
    expect(await t.diffed()).toEqual(['drivers/a.c']);
  });

  it('forgets files no longer there, and writes nothing when nothing changed', async () => {
    const t = setUp();
    later();
    await t.diffed();
    const written = statSync(t.indexFile()).mtimeMs;
    await t.diffed();
    expect(statSync(t.indexFile()).mtimeMs).toBe(written);
    writeFileSync(t.file('c.c'), PLAIN);
    await t.diffed();
    later();
    await t.diffed();
    const files = [t.file('a.c'), t.file('b.c'), t.file('c.c')];
    expect(indexed(t.cache, [join(t.dir, 'drivers')], files)).toEqual([true, false, true]);
  });

  it('keeps a file that names the API only in a comment, and reads it again once it calls it', async () => {
    const t = setUp();
    const c = t.file('c.c');
    writeFileSync(c, `/* Pages come from get_user_pages_fast() in the caller. */\n${PLAIN}`);
    later();
    await t.diffed();
    expect(indexed(t.cache, [join(t.dir, 'drivers')], [t.file('a.c'), t.file('b.c'), c])).toEqual([true, false, true]);
    writeFileSync(c, read('plain-loop', 'before.c'));
    expect(await t.diffed()).toEqual(['drivers/b.c', 'drivers/c.c']);
  });

  it('reads every file again when the index is damaged, and writes a whole one', async () => {
    const t = setUp();
    later();
    await t.diffed();
    const index = t.indexFile();
    for (const junk of [Buffer.from('not an index'), Buffer.alloc(0)]) {
      writeFileSync(index, junk);
      expect(await t.diffed()).toEqual(['drivers/b.c']);
      expect(indexed(t.cache, [join(t.dir, 'drivers')], [t.file('a.c'), t.file('b.c')])).toEqual([true, false]);
    }
  });

  it('is not used without the result cache', async () => {
    const t = setUp();
    await run([join(t.dir, 'drivers')], api, t.dir, {});
    expect(() => readdirSync(t.cache.dir)).toThrow(/ENOENT/);
  });
});
