/**
 * Linking units: joined texts map back to their files, and a group whose conversion needs a file
 * outside the given paths is refused, naming it.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportLines } from '../src/emit/report.ts';
import { convertedFileFromReport } from '../src/series/converted.ts';
import { groupFiles } from '../src/series/grouping.ts';
import { parseMaintainers } from '../src/series/maintainers.ts';
import { body, callChange } from '../src/series/message.ts';
import { joinUnit, locateLine, segmentAt, splitEdits } from '../src/link/unit.ts';
import { kernelTreeOf } from '../src/link/tree.ts';
import { linkNeeds } from '../src/link/needs.ts';
import { analyzeText, run } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { BIN, LINKED, gup2pin } from './support.ts';
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
      'drivers/demo/helper.c:6: converted acquire+page-pair: get_user_pages_fast() with 1 release at line 12; linked with drivers/other/user.c; exported demo_pin(): out-of-tree code that releases these pages itself must change too',
    ]);
  });
  it('outside a kernel tree, searches only the given paths', async () => {
    const dir = writeTree({ 'drivers/demo/helper.c': HELPER, 'drivers/other/user.c': user('other') });
    expect(await scan(dir, 'drivers/demo')).toEqual([
      'drivers/demo/helper.c:6: converted acquire+page-pair: get_user_pages_fast() with 1 release at line 12; exported demo_pin(): out-of-tree code that releases these pages itself must change too',
    ]);
  });
  it('refuses a group whose pages reach 8 or more other files, rather than convert it alone', async () => {
    const users = Object.fromEntries([1, 2, 3, 4, 5, 6, 7, 8].map((i) => [`drivers/demo/user${i}.c`, user(`user${i}`)]));
    const dir = writeTree({ 'drivers/demo/helper.c': HELPER, ...users });
    expect(await scan(dir, 'drivers')).toEqual([
      'drivers/demo/helper.c:6: refused not-linked: not linked with the files that share its pages: its pages are shared with 8 or more other files (drivers/demo/user1.c, drivers/demo/user2.c, drivers/demo/user3.c, …), more than gup2pin links',
    ]);
  });
});

describe('groups that no partner could make convertible', () => {
  const notifier = HELPER.replace('#include <linux/mm.h>\n', '#include <linux/mm.h>\n#include <linux/mmu_notifier.h>\n\nstatic const struct mmu_notifier_ops demo_mn_ops;\n');
  it('does not search for the callers of an MMU-notifier user whose callbacks it cannot see: its groups are refused whatever they do', async () => {
    expect(linkNeeds(analyzeText(HELPER))).toMatchObject({ functions: ['demo_pin', 'demo_unpin'], exported: ['demo_pin'] });
    expect(linkNeeds(analyzeText(notifier))).toBeUndefined();
    const dir = writeTree({ Makefile: '', Kbuild: '', 'drivers/demo/helper.c': notifier, 'drivers/other/user.c': user('other') });
    expect(await scan(dir, 'drivers')).toEqual([
      'drivers/demo/helper.c:9: refused mmu-notifier: this file is an MMU-notifier user (mmu_notifier_ops, line 5) whose callbacks gup2pin cannot all see: they may drop these pages, which would need no pin',
    ]);
  });
  it('does not link core kernel code (lib/ is core: iov_iter): it converts only with --core', async () => {
    const dir = writeTree({ Makefile: '', Kbuild: '', 'lib/demo.c': HELPER, 'drivers/other/user.c': user('other') });
    expect(await scan(dir, '.')).toEqual([
      'lib/demo.c:6: refused core-kernel: core kernel users were left on FOLL_GET upstream (pin_user_pages.rst cases 3–4): pass --core to convert',
    ]);
  });
});

describe('files that define the same function', () => {
  const pinner = (extra: string) => `// SPDX-License-Identifier: GPL-2.0
#include <linux/mm.h>
#include "demo.h"
${extra}
int demo_open(struct demo_ctx *ctx, unsigned long addr)
{
\treturn get_user_pages_fast(addr, 1, FOLL_WRITE, &ctx->page);
}
`;
  const releaser = (extra: string) => `// SPDX-License-Identifier: GPL-2.0
#include <linux/mm.h>
#include "demo.h"
${extra}
void demo_close(struct demo_ctx *ctx)
{
\tput_page(ctx->page);
}
`;
  const HELPER_FN = '\nstatic int demo_check(void)\n{\n\treturn 0;\n}\n';
  it('refuses a group whose partner file has a static helper of the same name: it cannot be linked', async () => {
    const dir = writeTree({ 'drivers/demo/open.c': pinner(HELPER_FN), 'drivers/demo/close.c': releaser(HELPER_FN) });
    expect(await scan(dir, 'drivers')).toEqual([
      'drivers/demo/open.c:12: refused not-linked: not linked with the files that share its pages: demo_check() is defined in drivers/demo/close.c and drivers/demo/open.c (+1 more)',
    ]);
  });
  it('links the first of two copies of a file (both define the acquiring function), and says why not the other', async () => {
    const dir = writeTree({ 'drivers/demo/open.c': pinner(''), 'drivers/demo/open-copy.c': pinner(''), 'drivers/demo/close.c': releaser('') });
    expect(await scan(dir, 'drivers')).toEqual([
      'drivers/demo/open-copy.c:7: converted acquire+page-pair: get_user_pages_fast() with 1 release at drivers/demo/close.c:7',
      'drivers/demo/open.c:7: refused not-linked: not linked with the files that share its pages: it defines the same demo_open() as drivers/demo/open-copy.c, of which it is taken for a copy (+1 more)',
    ]);
  });
});

describe('a series of linked groups', () => {
  const MAINTAINERS = `DEMO CORE
M:	Core Person <core@example.org>
F:	drivers/demo/

DEMO USERS
M:	User Person <user@example.org>
F:	drivers/other/
`;
  it('puts the files of one linked group in one patch, whatever their sections', async () => {
    const RELEASER = `// SPDX-License-Identifier: GPL-2.0
#include <linux/mm.h>
#include "demo.h"

void other_close(struct demo_ctx *ctx)
{
\tput_page(ctx->page);
}
`;
    const PINNER = `// SPDX-License-Identifier: GPL-2.0
#include <linux/mm.h>
#include "demo.h"

int demo_open(struct demo_ctx *ctx, unsigned long addr)
{
\treturn get_user_pages_fast(addr, 1, FOLL_WRITE, &ctx->page);
}
`;
    const dir = writeTree({ Makefile: 'VERSION = 6\nPATCHLEVEL = 5\n', Kbuild: '', 'drivers/demo/pin.c': PINNER, 'drivers/demo/other_close.c': RELEASER });
    const result = await run([join(dir, 'drivers')], apiFor(parseVersion('6.5')), dir);
    const files = result.files.map((f) => convertedFileFromReport(f));
    expect(files.map((f) => [f.path, f.after !== f.before])).toEqual([['drivers/demo/other_close.c', true], ['drivers/demo/pin.c', true]]);
    // Moved to another section's directory, the two files still make one patch.
    const moved = files.map((f) => (f.path.endsWith('other_close.c') ? { ...f, path: 'drivers/other/other_close.c' } : f));
    const patches = groupFiles(moved, 'section', parseMaintainers(MAINTAINERS));
    expect(patches.map((p) => p.files.map((f) => f.path))).toEqual([['drivers/demo/pin.c', 'drivers/other/other_close.c']]);
  });
  it('says in the commit message that out-of-tree users of an exported helper must change too', () => {
    const change = callChange([{ before: 'get_user_pages_fast(a); put_page(p);', after: 'pin_user_pages_fast(a); unpin_user_page(p);' }]);
    expect(body({ api: apiFor(parseVersion('6.5')), change, differences: [], exported: ['demo_pin', 'demo_unpin'] })).toContain(
      'demo_pin() and demo_unpin() are exported: code outside the tree that\nreleases these pages itself must switch to unpin_user_page*() too, or the\npins leak.',
    );
  });
});

describe('apply of a group across files, killed between its renames', () => {
  const USNIC = 'drivers/infiniband/hw/usnic';
  const texts = (root: string) => Object.fromEntries(readdirSync(join(root, USNIC)).sort().map((n) => [n, readFileSync(join(root, USNIC, n), 'utf8')]));
  it('leaves a journal that the next apply finishes, and nothing to do after that', () => {
    const dir = scratchDir();
    cpSync(join(LINKED, 'usnic', 'before'), dir, { recursive: true });
    const args = ['apply', '--target', '6.5', USNIC];
    const killed = spawnSync(BIN, args, { cwd: dir, env: { ...process.env, GUP2PIN_CRASH_AFTER_RENAMES: '1' } });
    expect(killed.signal).toBe('SIGKILL');
    const half = texts(dir);
    const after = texts(join(LINKED, 'usnic', 'after.6.5'));
    const before = texts(join(LINKED, 'usnic', 'before'));
    // One of the group's two files is converted, the other not; the journal and the temp file wait.
    expect(['usnic_ib_qp_grp.c', 'usnic_ib_verbs.c'].map((f) => half[f] === after[f])).toEqual([true, false]);
    expect(half['usnic_ib_verbs.c']).toBe(before['usnic_ib_verbs.c']);
    expect(readdirSync(join(dir, USNIC)).filter((n) => n.startsWith('.')).length).toBe(2);
    // diff says an apply is unfinished; apply finishes it.
    expect(gup2pin(['diff', '--target', '6.5', USNIC], dir).stderr).toMatch(/\.journal: an interrupted gup2pin apply left this journal: run apply again to finish it\n/);
    const again = gup2pin(args, dir);
    // Then the registration group of usnic_uiom.c, which the killed run never reached.
    expect(again.stdout).toBe(`converted ${USNIC}/usnic_ib_verbs.c (finishing an interrupted apply)\nconverted ${USNIC}/usnic_uiom.c\n`);
    expect(again.code).toBe(0);
    expect(texts(dir)).toEqual(after);
    expect(readdirSync(join(dir, USNIC)).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(gup2pin(args, dir).stdout).toBe('');
  });
});

describe('the kernel tree callers are searched in', () => {
  it('is the tree top above the paths, not arch/x86 (which has a Makefile and a Kbuild too)', () => {
    const top = scratchDir('gup2pin-kernel-');
    writeFileSync(join(top, 'Makefile'), 'VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 0\n');
    writeFileSync(join(top, 'Kbuild'), '');
    mkdirSync(join(top, 'arch', 'x86', 'kvm'), { recursive: true });
    writeFileSync(join(top, 'arch', 'x86', 'Makefile'), 'obj-y += kvm/\n');
    writeFileSync(join(top, 'arch', 'x86', 'Kbuild'), 'obj-y += kvm/\n');
    writeFileSync(join(top, 'arch', 'x86', 'kvm', 'mmu.c'), 'int x;\n');
    expect(kernelTreeOf([join(top, 'arch', 'x86', 'kvm')])).toBe(top);
    expect(kernelTreeOf([join(top, 'missing'), join(top, 'arch', 'x86', 'kvm', 'mmu.c')])).toBe(top);
    expect(kernelTreeOf([scratchDir('gup2pin-nokernel-')])).toBeUndefined();
  });
});
