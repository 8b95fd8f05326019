/**
 * Linking units: joined texts map back to their files, and a group whose conversion needs a file
 * outside the given paths is refused, naming it.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportLines } from '../src/emit/report.ts';
import { joinUnit, locateLine, segmentAt, splitEdits } from '../src/link/unit.ts';
import { run } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { LINKED } from './support.ts';
import { scratchDir } from './helpers.ts';

describe('joined units', () => {
  const unit = joinUnit([
    { path: '/t/a.c', display: 'a.c', text: 'int a;\nint b;\n' },
    { path: '/t/b.c', display: 'b.c', text: 'int c;' },
    { path: '/t/c.c', display: 'c.c', text: 'x\ny\n' },
  ]);
  it('joins with a newline only where a file lacks one, and maps lines and offsets back', () => {
    expect(unit.text).toBe('int a;\nint b;\nint c;\nx\ny\n');
    expect(unit.segments.map((s) => [s.start, s.end, s.row])).toEqual([[0, 14, 0], [14, 20, 2], [21, 25, 3]]);
    expect(locateLine(unit, 2)).toMatchObject({ line: 2, segment: { display: 'a.c' } });
    expect(locateLine(unit, 3)).toMatchObject({ line: 1, segment: { display: 'b.c' } });
    expect(locateLine(unit, 5)).toMatchObject({ line: 2, segment: { display: 'c.c' } });
    expect(segmentAt(unit, 21).display).toBe('c.c');
  });
  it('splits edits per file with file-relative offsets, and throws on an edit across files', () => {
    const split = splitEdits(unit, [{ start: 18, end: 19, text: 'C' }, { start: 23, end: 24, text: 'Y' }]);
    expect([...split].map(([s, e]) => [s.display, e])).toEqual([['b.c', [{ start: 4, end: 5, text: 'C' }]], ['c.c', [{ start: 2, end: 3, text: 'Y' }]]]);
    expect(() => splitEdits(unit, [{ start: 12, end: 16, text: '' }])).toThrow('a.c');
  });
});

describe('a group across files, given one of them', () => {
  it('is refused with outside-paths naming the other file, and nothing is changed', async () => {
    const dir = scratchDir();
    cpSync(join(LINKED, 'usnic', 'before'), dir, { recursive: true });
    const verbs = join(dir, 'drivers/infiniband/hw/usnic/usnic_ib_verbs.c');
    const result = await run([verbs], apiFor(parseVersion('6.5')), dir);
    expect(result.files.flatMap((f) => reportLines(f))).toContain(
      'drivers/infiniband/hw/usnic/usnic_ib_verbs.c:98: refused outside-paths: the conversion also edits drivers/infiniband/hw/usnic/usnic_ib_qp_grp.c, which is not among the given paths: pass it too',
    );
    for (const f of result.files) expect(f.output, f.display).toBe(f.original);
  });
});

/** A pin helper pair in one file; the pages of `demo_pin()` go to its callers. */
const HELPER = `// SPDX-License-Identifier: GPL-2.0
#include <linux/mm.h>

int demo_pin(unsigned long addr, struct page **pages)
{
	return get_user_pages_fast(addr, 1, FOLL_WRITE, pages);
}
EXPORT_SYMBOL(demo_pin);

void demo_unpin(struct page **pages)
{
	put_page(pages[0]);
}

static int demo_selftest(unsigned long addr)
{
	struct page *p[1];

	if (demo_pin(addr, p) == 1)
		demo_unpin(p);
	return 0;
}
`;

/** A caller of demo_pin() that keeps the page in a global of its own. */
const user = (name: string) => `// SPDX-License-Identifier: GPL-2.0
#include <linux/mm.h>

struct page *${name}_page;

int ${name}_open(unsigned long addr)
{
\treturn demo_pin(addr, &${name}_page);
}
`;

function writeTree(files: Record<string, string>): string {
  const dir = scratchDir();
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const scan = async (dir: string, path: string) =>
  (await run([join(dir, path)], apiFor(parseVersion('6.5')), dir)).files.flatMap((f) => reportLines(f));

describe('where callers are searched', () => {
  it('finds the callers of an exported helper anywhere in the kernel tree, outside the given paths', async () => {
    const dir = writeTree({ Makefile: 'VERSION = 6\nPATCHLEVEL = 5\n', Kbuild: '', 'drivers/demo/helper.c': HELPER, 'drivers/other/user.c': user('other') });
    expect(await scan(dir, 'drivers/demo')).toEqual([
      'drivers/demo/helper.c:6: converted acquire+page-pair: get_user_pages_fast() with 1 release at line 12; linked with drivers/other/user.c',
    ]);
  });
  it('outside a kernel tree, searches only the given paths', async () => {
    const dir = writeTree({ 'drivers/demo/helper.c': HELPER, 'drivers/other/user.c': user('other') });
    expect(await scan(dir, 'drivers/demo')).toEqual(['drivers/demo/helper.c:6: converted acquire+page-pair: get_user_pages_fast() with 1 release at line 12']);
  });
  it('refuses a group whose pages reach 8 or more other files, rather than convert it alone', async () => {
    const users = Object.fromEntries([1, 2, 3, 4, 5, 6, 7, 8].map((i) => [`drivers/demo/user${i}.c`, user(`user${i}`)]));
    const dir = writeTree({ 'drivers/demo/helper.c': HELPER, ...users });
    expect(await scan(dir, 'drivers')).toEqual([
      'drivers/demo/helper.c:6: refused not-linked: not linked with the files that share its pages: its pages are shared with 8 or more other files (drivers/demo/user1.c, drivers/demo/user2.c, drivers/demo/user3.c, …), more than gup2pin links',
    ]);
  });
});
