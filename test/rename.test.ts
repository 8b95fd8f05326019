/**
 * A file's own function named like the API the conversion emits (H14): a static one is renamed
 * with the conversion (fixtures/name-clash-rename), anything else refuses the file's groups and
 * says why (fixtures/neg-name-clash: an exported one).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileReport, reportJson, reportLines } from '../src/emit/report.ts';
import { analyzeText, processText } from '../src/run.ts';
import { planFile } from '../src/plan/plan.ts';
import { verifyTexts } from '../src/sim/verify.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { gup2pin, read, scratchDir } from './helpers.ts';

const API = apiFor(parseVersion('6.5'));

/**
 * A driver whose own pin_user_pages() predates the mm API's: declared, defined, called across two
 * lines and stored in an ops pointer; a comment, a debug message and the pointer's struct member
 * mention the name too.
 */
const VPIPE = `// SPDX-License-Identifier: GPL-2.0
#include <linux/mm.h>

struct vpipe {
	struct page *pages[16];
	int npages;
	bool write;
	int (*pin_user_pages)(unsigned long start, int n, bool write, struct page **pages);
};

static int pin_user_pages(unsigned long start, int n, bool write,
			  struct page **pages);

/* Our own pin_user_pages(), from before the mm API had one. */
static int pin_user_pages(unsigned long start, int n, bool write,
			  struct page **pages)
{
	int got = get_user_pages_fast(start, n, write ? FOLL_WRITE : 0, pages);

	if (got < 0)
		pr_debug("vpipe: pin_user_pages: %d\\n", got);
	return got;
}

int vpipe_map(struct vpipe *p, unsigned long start, int n)
{
	int got;

	if (n > 16)
		return -EINVAL;
	p->pin_user_pages = pin_user_pages;
	got = pin_user_pages(start, n, p->write,
			     p->pages);
	if (got < 0)
		return got;
	p->npages = got;
	return 0;
}

void vpipe_unmap(struct vpipe *p)
{
	int i;

	for (i = 0; i < p->npages; i++)
		put_page(p->pages[i]);
	p->npages = 0;
}
`;

const VPIPE_AFTER = VPIPE.replace(
  'static int pin_user_pages(unsigned long start, int n, bool write,\n\t\t\t  struct page **pages);\n',
  'static int vpipe_pin_user_pages(unsigned long start, int n, bool write,\n\t\t\t\tstruct page **pages);\n',
)
  .replace(
    'static int pin_user_pages(unsigned long start, int n, bool write,\n\t\t\t  struct page **pages)\n{',
    'static int vpipe_pin_user_pages(unsigned long start, int n, bool write,\n\t\t\t\tstruct page **pages)\n{',
  )
  .replace('get_user_pages_fast(start', 'pin_user_pages_fast(start')
  .replace('p->pin_user_pages = pin_user_pages;', 'p->pin_user_pages = vpipe_pin_user_pages;')
  .replace('got = pin_user_pages(start, n, p->write,\n\t\t\t     p->pages);', 'got = vpipe_pin_user_pages(start, n, p->write,\n\t\t\t\t   p->pages);')
  .replace('\tint i;\n\n\tfor (i = 0; i < p->npages; i++)\n\t\tput_page(p->pages[i]);\n', '\tunpin_user_pages(p->pages, p->npages);\n');

/** What scan does with `text` shown as `file`: the plan (verified) and its report lines. */
function scan(text: string, file = 'vpipe.c', target = '6.5') {
  const { plan, verification } = processText(text, apiFor(parseVersion(target)), { core: false, file }, { verify: true });
  return { plan, verification, lines: reportLines(fileReport(file, plan, verification)) };
}

const refusedAs = (message: string) => [`vpipe.c:18: refused name-clash: ${message}`];

describe('a static function named like the API', () => {
  it('is renamed after the file with its prototype, calls and address, continuation lines realigned', () => {
    expect(VPIPE_AFTER).not.toBe(VPIPE);
    const { plan, verification, lines } = scan(VPIPE);
    expect(plan.output).toBe(VPIPE_AFTER);
    expect(lines).toEqual([
      'vpipe.c:18: converted acquire+whole-loop: get_user_pages_fast() with 1 release at line 45; renamed the local pin_user_pages() to vpipe_pin_user_pages()',
    ]);
    // The renamed function is an entry point of its own (its address is taken): the simulator
    // runs it under its old name, and its address is the same value in both runs.
    expect([...verification.values()].map((v) => [v.verdict, v.scenarios > 0])).toEqual([['equivalent', true]]);
    expect(verifyTexts(VPIPE, VPIPE_AFTER, API).map((v) => v.verdict)).toEqual(['equivalent']);
  });

  it('is named in --json', () => {
    const { plan, verification } = scan(VPIPE);
    const json = reportJson([fileReport('vpipe.c', plan, verification)], API);
    expect(json.files[0].groups[0]).toMatchObject({ verdict: 'converted', renamed: [{ from: 'pin_user_pages', to: 'vpipe_pin_user_pages', line: 15 }] });
  });

  it('converts again to nothing', () => {
    expect(scan(VPIPE_AFTER).plan.output).toBe(VPIPE_AFTER);
  });

  it('takes a numeric suffix when the name is used in the file, even in a comment', () => {
    const taken = VPIPE.replace('/* Our own', '/* vpipe_pin_user_pages is taken. Our own');
    const { plan } = scan(taken);
    expect(plan.output).toBe(VPIPE_AFTER.replace('/* Our own', '/* vpipe_pin_user_pages is taken. Our own').replace(/vpipe_pin_user_pages\(/g, 'vpipe_pin_user_pages2(').replace('= vpipe_pin_user_pages;', '= vpipe_pin_user_pages2;').replace(/\n\t\t\t\t(struct page \*\*pages)/g, '\n\t\t\t\t $1').replace('\n\t\t\t\t   p->pages', '\n\t\t\t\t    p->pages'));
  });

  it('is named after the file name as a C identifier, or local_ without one', () => {
    const name = (file: string | undefined) => /static int (\w+)\(/.exec(processText(VPIPE, API, { core: false, file }).plan.output)![1];
    expect(name('drivers/misc/foo-dev.c')).toBe('foo_dev_pin_user_pages');
    expect(name('drivers/misc/8250_vpipe.c')).toBe('file_8250_vpipe_pin_user_pages');
    expect(name(undefined)).toBe('local_pin_user_pages');
  });

  it('is left alone when nothing converts: the file stays byte-identical', () => {
    const core = processText(VPIPE, API, { core: true, file: 'vpipe.c' }).plan;
    expect(core.groups.map((g) => g.diagnostics[0]?.code)).toEqual(['core-kernel']);
    expect(core.output).toBe(VPIPE);
  });

  it('is what keeps the converted calls from calling it: without the rename, the simulator finds a leak', () => {
    // qpipe's doorbell: get_user_pages() becomes the kernel's pin_user_pages(), which the file's
    // own would capture.
    const before = read('name-clash-rename', 'before.c');
    const unrenamed = read('name-clash-rename', 'after.6.5.c').replace(/before_pin_user_pages/g, 'pin_user_pages');
    const summary = verifyTexts(before, unrenamed, API).map((v) => `${v.line} ${v.verdict} ${v.divergence?.reason ?? ''}`);
    expect(summary).toEqual(['52 intended ', '118 not-equivalent leak']);
  });
});

describe('a clash that is not renamed refuses every group, saying why', () => {
  it('a function that is not static', () => {
    const shared = VPIPE.replace(/^static int pin_user_pages\(/gm, 'int pin_user_pages(');
    const { plan, lines } = scan(shared);
    // Not the file's own then: its calls are the API's, a pin_user_pages() group with a put_page().
    const message = 'this file defines its own pin_user_pages() (line 15), which is not static: other files may call it, so it is not renamed, and it would capture the converted calls (+1 more)';
    expect(lines).toEqual([`vpipe.c:18: refused name-clash: ${message}`, `vpipe.c:32: refused name-clash: ${message}`]);
    expect(plan.output).toBe(shared);
  });

  it('a macro', () => {
    const macro = VPIPE.replace('struct vpipe {', '#define unpin_user_page(page)\tput_page(page)\n\nstruct vpipe {');
    expect(scan(macro).lines).toEqual([
      'vpipe.c:20: refused name-clash: this file defines unpin_user_page as a macro (line 4), which would capture the converted calls: a macro is not renamed',
    ]);
  });

  it('#undef, a macro body, a variable of that name', () => {
    const undef = VPIPE + '#undef pin_user_pages\n';
    expect(scan(undef).lines).toEqual(refusedAs('this file defines its own pin_user_pages() (line 15), but line 48 mentions it in a preprocessor line (#undef pin_user_pages): it is not renamed, and it would capture the converted calls'));
    const body = VPIPE + '#define vpipe_pin(s, n, p)\tpin_user_pages(s, n, true, p)\n';
    expect(scan(body).lines).toEqual(refusedAs('this file defines its own pin_user_pages() (line 15), but line 48 mentions it in the macro vpipe_pin: it is not renamed, and it would capture the converted calls'));
    const variable = VPIPE.replace('\tint i;\n\n\tfor', '\tint i, pin_user_pages = 0;\n\n\tfor');
    expect(scan(variable).lines).toEqual(refusedAs('this file defines its own pin_user_pages() (line 15), but line 42 declares a variable of that name in vpipe_unmap(): it is not renamed, and it would capture the converted calls'));
  });

  it('a use inside code the conversion rewrites (a dirty condition copied into the unpin)', () => {
    const text = `#include <linux/mm.h>

/* Whether the device wrote the page: its status word says so. */
static bool put_user_page(struct page *page)
{
	return page_private(page) & 1;
}

int ov_touch(unsigned long uaddr)
{
	struct page *page;

	if (get_user_pages_fast(uaddr, 1, FOLL_WRITE, &page) != 1)
		return -EFAULT;
	if (put_user_page(page))
		set_page_dirty_lock(page);
	put_page(page);
	return 0;
}
`;
    const { plan, lines } = scan(text, 'ov.c');
    expect(lines).toEqual(["ov.c:13: refused name-clash: the conversion rewrites line 15, which uses this file's own put_user_page(): it is not renamed, and it would capture the converted calls"]);
    expect(plan.output).toBe(text);
  });

  it('a header: every file that includes it calls its copy', () => {
    const { lines, plan } = scan(VPIPE, 'vpipe.h');
    expect(lines).toEqual(['vpipe.h:18: refused name-clash: this header defines its own static pin_user_pages() (line 15): the files that include it call it too, so it is not renamed, and it would capture the converted calls']);
    expect(plan.output).toBe(VPIPE);
  });

  it('a group linked across files', () => {
    const other = 'void vpipe_other(void)\n{\n}\n';
    const analysis = analyzeText(VPIPE + other, [{ start: 0, end: VPIPE.length }, { start: VPIPE.length, end: VPIPE.length + other.length }]);
    const plan = planFile(analysis, API, { core: false, file: 'vpipe.c' });
    expect(plan.groups.map((g) => g.diagnostics.map((d) => d.message))).toEqual([
      ['this file defines its own static pin_user_pages() (line 15): it is renamed only in a file converted on its own, not with a group linked across files'],
    ]);
  });

  it("the API's own definitions (mm/gup.c), even with --core", () => {
    const gup = `long pin_user_pages(unsigned long start, unsigned long nr_pages,
		    unsigned int gup_flags, struct page **pages)
{
	return __gup_longterm_locked(current->mm, start, nr_pages, pages, gup_flags | FOLL_PIN);
}
EXPORT_SYMBOL(pin_user_pages);

static int gup_test_pin(unsigned long addr, int n, struct page **pages)
{
	int i, got = get_user_pages_fast(addr, n, FOLL_WRITE, pages);

	for (i = 0; i < got; i++)
		put_page(pages[i]);
	return got;
}
`;
    const { plan, lines } = scan(gup, 'mm/gup.c');
    expect(lines).toEqual(['mm/gup.c:10: refused name-clash: this file defines and exports pin_user_pages() (line 1): other modules call it, so it is not renamed, and it would capture the converted calls']);
    expect(plan.output).toBe(gup);
  });
});

describe('the CLI', () => {
  it('diff shows the rename in the hunks of a file named after it', () => {
    const root = scratchDir();
    mkdirSync(join(root, 'drivers', 'misc'), { recursive: true });
    writeFileSync(join(root, 'drivers', 'misc', 'vpipe.c'), VPIPE);
    const r = gup2pin(['diff', '--target', '6.5', 'drivers'], root);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('-static int pin_user_pages(unsigned long start, int n, bool write,\n-\t\t\t  struct page **pages);\n+static int vpipe_pin_user_pages(unsigned long start, int n, bool write,\n+\t\t\t\tstruct page **pages);\n');
    expect(r.stdout).toContain('-\tp->pin_user_pages = pin_user_pages;\n-\tgot = pin_user_pages(start, n, p->write,\n-\t\t\t     p->pages);\n+\tp->pin_user_pages = vpipe_pin_user_pages;\n+\tgot = vpipe_pin_user_pages(start, n, p->write,\n+\t\t\t\t   p->pages);\n');
  });
});
