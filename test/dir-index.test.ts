/**
 * The directory index (src/cache/dir-index.ts): with the result cache, a directory whose stat is
 * unchanged since an earlier run is not listed again; one with an entry created, removed or
 * renamed, or changed too recently to trust, is.
 */
import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirIndex } from '../src/cache/dir-index.ts';
import { resultCacheJob } from '../src/cache/results.ts';
import { walk } from '../src/discover/walk.ts';
import { run } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { later, read, scratchDir } from './helpers.ts';

const api = apiFor(parseVersion('6.1'));
const PLAIN = '// SPDX-License-Identifier: GPL-2.0\nstatic int foo_probe(void)\n{\n\treturn 0;\n}\n';

/** drivers/{a.c, sub/b.c (a conversion), sub/deep/c.c}, a cache beside them, and runs over drivers. */
function setUp() {
  const dir = scratchDir('gup2pin-dirs-');
  const root = join(dir, 'drivers');
  mkdirSync(join(root, 'sub', 'deep'), { recursive: true });
  writeFileSync(join(root, 'a.c'), PLAIN);
  writeFileSync(join(root, 'sub', 'b.c'), read('plain-loop', 'before.c'));
  writeFileSync(join(root, 'sub', 'deep', 'c.c'), PLAIN);
  const cache = { dir: join(dir, '.cache'), build: 'test' };
  const job = resultCacheJob(cache, 'unused')!;
  /** The files a run with the cache converts (shown from the tree's top). */
  const ran = async () => {
    const result = await run([root], api, dir, { cache });
    return result.files.filter((f) => f.output !== f.original).map((f) => f.display);
  };
  /** The index as the next run loads it: the listing it would take for `sub`, if any. */
  const kept = (sub: string) => {
    const dirs = DirIndex.load(job, [root]);
    const path = join(root, sub);
    return dirs.unchanged(path, dirs.stat(path)!)?.keys;
  };
  /** Keeps `keys` as `sub`'s listing at the stat it has now: a listing only the index can give. */
  const plant = (sub: string, keys: string[]) => {
    const dirs = DirIndex.load(job, [root], Date.now() + 10_000);
    const path = join(root, sub);
    dirs.record(path, dirs.stat(path)!, { keys, links: new Set() });
    dirs.save();
  };
  /** A walk of the tree with the index as it is now. */
  const walked = () => walk([root], { dirs: DirIndex.load(job, [root]) }).files.map((f) => f.slice(root.length + 1));
  return { dir, root, job, ran, kept, plant, walked };
}

describe('directory index', () => {
  it('keeps each directory once its stat is old enough to trust', async () => {
    const t = setUp();
    // Just made: a change within the same timestamp tick would not show, so none is kept.
    await t.ran();
    expect(t.kept('sub')).toBeUndefined();
    later();
    await t.ran();
    expect(t.kept('.')).toEqual(['a.c', 'sub/']);
    expect(t.kept('sub')).toEqual(['b.c', 'deep/']);
    expect(t.kept('sub/deep')).toEqual(['c.c']);
  });

  it('takes an unchanged directory from the index, without listing it', () => {
    const t = setUp();
    t.plant('sub', ['ghost.c']);
    expect(t.walked()).toEqual(['a.c', 'sub/ghost.c']);
  });

  it('lists a directory again once an entry is created, removed or renamed in it', async () => {
    const t = setUp();
    later();
    expect(await t.ran()).toEqual(['drivers/sub/b.c']);
    writeFileSync(join(t.root, 'sub', 'deep', 'd.c'), read('plain-loop', 'before.c'));
    later();
    expect(await t.ran()).toEqual(['drivers/sub/b.c', 'drivers/sub/deep/d.c']);
    expect(t.walked()).toEqual(['a.c', 'sub/b.c', 'sub/deep/c.c', 'sub/deep/d.c']);
    rmSync(join(t.root, 'sub', 'b.c'));
    renameSync(join(t.root, 'sub', 'deep', 'd.c'), join(t.root, 'sub', 'deep', 'e.c'));
    later();
    expect(await t.ran()).toEqual(['drivers/sub/deep/e.c']);
    expect(t.walked()).toEqual(['a.c', 'sub/deep/c.c', 'sub/deep/e.c']);
  });

  it('lists a directory again when only its ctime changed (a chmod)', () => {
    const t = setUp();
    t.plant('sub', ['ghost.c']);
    expect(t.walked()).toEqual(['a.c', 'sub/ghost.c']);
    chmodSync(join(t.root, 'sub'), 0o750);
    expect(t.walked()).toEqual(['a.c', 'sub/b.c', 'sub/deep/c.c']);
  });

  it('finds symlinked files and apply journals in a kept directory as in a listed one', async () => {
    const t = setUp();
    symlinkSync(join(t.root, 'sub', 'deep', 'c.c'), join(t.root, 'sub', 'link.c'));
    writeFileSync(join(t.root, 'sub', '.gup2pin-12-0a1b.journal'), '{}');
    const listed = walk([t.root]);
    later();
    await t.ran();
    expect(t.kept('sub')).toEqual(['.gup2pin-12-0a1b.journal', 'b.c', 'deep/', 'link.c']);
    const again = walk([t.root], { dirs: DirIndex.load(t.job, [t.root]) });
    expect(again).toEqual(listed);
    expect(again.journals).toEqual([join(t.root, 'sub', '.gup2pin-12-0a1b.journal')]);
  });

  it('lists every directory when the index is damaged, and writes a whole one', async () => {
    const t = setUp();
    later();
    await t.ran();
    const dirs = DirIndex.load(t.job, [t.root]);
    const sub = join(t.root, 'sub');
    expect(dirs.unchanged(sub, dirs.stat(sub)!)).toBeDefined();
    const file = join(t.job.dir, readdirSync(t.job.dir).find((n) => n.startsWith('dirs-'))!);
    for (const junk of [Buffer.from('not an index'), Buffer.alloc(0)]) {
      writeFileSync(file, junk);
      expect(t.kept('sub')).toBeUndefined();
      expect(t.walked()).toEqual(['a.c', 'sub/b.c', 'sub/deep/c.c']);
      await t.ran();
      expect(t.kept('sub')).toEqual(['b.c', 'deep/']);
    }
  });

  it('forgets directories no longer there, and writes nothing when nothing changed', async () => {
    const t = setUp();
    later();
    await t.ran();
    const file = join(t.job.dir, readdirSync(t.job.dir).find((n) => n.startsWith('dirs-'))!);
    const written = statSync(file).mtimeMs;
    await t.ran();
    expect(statSync(file).mtimeMs).toBe(written);
    const deep = join(t.root, 'sub', 'deep');
    const gone = DirIndex.load(t.job, [t.root]).stat(deep)!;
    rmSync(deep, { recursive: true });
    later();
    expect(await t.ran()).toEqual(['drivers/sub/b.c']);
    expect(DirIndex.load(t.job, [t.root]).unchanged(deep, gone)).toBeUndefined();
    expect(t.kept('sub')).toEqual(['b.c']);
  });
});
