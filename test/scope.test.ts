/**
 * What `diff` and `apply` analyse (src/link/scope.ts): only the files whose groups can convert,
 * and those linking may join with them. The rules, and the invariant they serve: every file's
 * output is the one a run analysing every candidate gives.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analysedEmpty, setAside, stillNeeded, type Analysed } from '../src/link/scope.ts';
import { run } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { FIXTURES, scratchDir } from './helpers.ts';
import { LINKED, linkedFixtureNames } from './support.ts';

const GETS = 'static int f(void) { return get_user_pages_fast(a, 1, 0, p); }\n';
const PINS = 'static int f(void) { return pin_user_pages_fast(a, 1, 0, p); }\n';
const EXPORTS = `${PINS}EXPORT_SYMBOL_GPL(f);\n`;

const needs = (exported: string[]) => ({ functions: exported, exported, fields: [], groups: [0], acquirers: ['f'] });

describe('setAside', () => {
  it('analyses a file calling get_user_pages*() outside core code, or exporting a helper', () => {
    expect(setAside('/t/drivers/a/a.c', GETS, false)).toBeUndefined();
    expect(setAside('/t/drivers/a/a.c', EXPORTS, false)).toBeUndefined();
  });
  it('sets aside one already on pin_user_pages*() that exports nothing', () => {
    expect(setAside('/t/drivers/a/a.c', PINS, false)).toEqual({ path: '/t/drivers/a/a.c', gets: false, settled: false });
  });
  it('sets aside core kernel code (without --core), remembering whether it calls get_user_pages*()', () => {
    expect(setAside('/t/mm/a.c', GETS, true)).toEqual({ path: '/t/mm/a.c', gets: true, settled: true });
    expect(setAside('/t/mm/b.c', EXPORTS, true)).toEqual({ path: '/t/mm/b.c', gets: false, settled: true });
  });
});

describe('stillNeeded', () => {
  const pinned = { path: '/t/drivers/a/pinned.c', gets: false, settled: false };
  const elsewhere = { path: '/t/drivers/b/pinned.c', gets: false, settled: false };
  const core = { path: '/t/mm/gup_user.c', gets: false, settled: true };
  const getting: Analysed = { path: '/t/drivers/a/get.c', original: GETS };

  it('takes a set-aside file that shares its directory with an analysed file calling get_user_pages*()', () => {
    expect(stillNeeded([pinned, elsewhere], [getting])).toEqual([pinned]);
  });
  it('takes one that shares its directory with a set-aside core file calling it', () => {
    const dir = { path: '/t/mm/x/pinned.c', gets: false, settled: false };
    expect(stillNeeded([dir, { path: '/t/mm/x/get.c', gets: true, settled: true }], [])).toEqual([dir]);
  });
  it('takes one beside a file that calls get_user_pages*() but held no pin group when analysed', () => {
    expect(stillNeeded([pinned, elsewhere, analysedEmpty('/t/drivers/a/async.c', true)], [])).toEqual([pinned]);
    expect(stillNeeded([pinned, analysedEmpty('/t/drivers/a/exports.c', false)], [])).toEqual([]);
  });
  it('does not take one whose directory only holds files on the pin API', () => {
    expect(stillNeeded([pinned], [{ path: '/t/drivers/a/other.c', original: PINS }])).toEqual([]);
  });
  it('takes every non-core one when an analysed file’s pages leave through an exported helper (callers anywhere)', () => {
    const exporter: Analysed = { path: '/t/drivers/c/get.c', original: GETS, links: needs(['f']) };
    expect(stillNeeded([pinned, elsewhere, core], [exporter])).toEqual([pinned, elsewhere]);
    expect(stillNeeded([pinned, elsewhere], [{ ...exporter, links: needs([]) }])).toEqual([]);
  });
  it('never takes core kernel code', () => {
    expect(stillNeeded([core], [{ path: '/t/mm/get.c', original: GETS }])).toEqual([]);
  });
});

/** Each file's output (path → text) of the files a run changes, and how many it set aside. */
async function outputs(paths: string[], root: string, target: string, convertOnly: boolean) {
  const result = await run(paths, apiFor(parseVersion(target)), root, { convertOnly });
  const changed = Object.fromEntries(result.files.filter((f) => f.output !== f.original).map((f) => [f.display, f.output]));
  return { changed, setAside: result.setAside };
}

describe('a converting run changes exactly what a run analysing every file changes', () => {
  it.each(['6.5', '5.4'])('on every fixture, at %s', async (target) => {
    const only = await outputs([FIXTURES], FIXTURES, target, true);
    const all = await outputs([FIXTURES], FIXTURES, target, false);
    expect(only.changed).toEqual(all.changed);
    expect(Object.keys(only.changed).length).toBeGreaterThan(50);
    // A fixture's before.c and after.*.c share a directory: only directories holding no
    // get_user_pages*() call are set aside (already-pinned/, the pin-API copies of the linked trees).
    expect(only.setAside).toBe(13);
    expect(all.setAside).toBeUndefined();
  });

  it.each(linkedFixtureNames())('on the linked tree %s', async (name) => {
    const root = join(LINKED, name, 'before');
    const only = await outputs([root], root, '6.5', true);
    expect(only.changed).toEqual((await outputs([root], root, '6.5', false)).changed);
    expect(Object.keys(only.changed).length).toBeGreaterThan(0);
  });

  it('counts a file calling get_user_pages*() with no pin group as a neighbour, and as nothing to convert', async () => {
    // async_pf.c's shape: the pages are only faulted in (no array), so there is no group.
    const FAULT_IN = `static void xr_fault_in(struct mm_struct *mm, unsigned long addr)
{
	int locked = 1;

	mmap_read_lock(mm);
	get_user_pages_remote(mm, addr, 1, FOLL_WRITE, NULL, &locked);
	if (locked)
		mmap_read_unlock(mm);
}
`;
    const root = scratchDir();
    mkdirSync(join(root, 'drivers', 'xr'), { recursive: true });
    writeFileSync(join(root, 'drivers', 'xr', 'fault.c'), FAULT_IN);
    writeFileSync(join(root, 'drivers', 'xr', 'pinned.c'), PINS);
    const result = await run([root], apiFor(parseVersion('6.5')), root, { convertOnly: true });
    expect(result.files.map((f) => f.display)).toEqual([join('drivers', 'xr', 'pinned.c')]);
    expect(result.setAside).toBe(1);
  });

  it('analyses a file on the pin API beside one calling get_user_pages*(), and sets aside one elsewhere', async () => {
    const root = scratchDir();
    cpSync(join(LINKED, 'hfi1', 'before'), root, { recursive: true });
    const beside = join('drivers', 'infiniband', 'hw', 'hfi1', 'pinned.c');
    const elsewhere = join('drivers', 'other', 'pinned.c');
    mkdirSync(join(root, 'drivers', 'other'), { recursive: true });
    for (const f of [beside, elsewhere]) writeFileSync(join(root, f), PINS);
    const result = await run([root], apiFor(parseVersion('6.5')), root, { convertOnly: true });
    expect(result.setAside).toBe(1);
    expect(result.files.map((f) => f.display)).toContain(beside);
    expect(result.files.map((f) => f.display)).not.toContain(elsewhere);
    const changed = Object.fromEntries(result.files.filter((f) => f.output !== f.original).map((f) => [f.display, f.output]));
    expect(changed).toEqual((await outputs([root], root, '6.5', false)).changed);
  });
});
