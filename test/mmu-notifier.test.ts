/**
 * MMU notifiers refuse the groups whose pages they manage, not every group of the file
 * (src/sites/mmu-notifier.ts): each way a group is tied to the notifier, with its exact message,
 * and the groups beside them that convert.
 */
import { describe, expect, it } from 'vitest';
import { linkNeeds } from '../src/link/needs.ts';
import { analyzeText } from '../src/run.ts';
import { verifyTexts } from '../src/sim/verify.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { read } from './helpers.ts';

/** Each group's acquire line and its `mmu-notifier` message (undefined: independent of the notifier). */
const notifier = (text: string) => analyzeText(text).groups.map((g) => [g.line, g.hazards.find((h) => h.code === 'mmu-notifier')?.message]);

/** The line of the first `needle` in `text`. */
const at = (text: string, needle: string) => {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`no ${needle}`);
  return text.slice(0, i).split('\n').length;
};

const MANAGED = 'notifier-managed pages need no pin';
const APART = 'they cannot be told from the pages the notifier manages';

/**
 * A region whose pages an interval notifier manages, and a buffer of its own beside it. The parts
 * the cases change: what the invalidate callback does, the ops table, what the fault path calls,
 * and code added at the end.
 */
function driver(o: { invalidate?: string; ops?: string; fault?: string; more?: string; region?: string } = {}) {
  return `// SPDX-License-Identifier: GPL-2.0
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

struct demo_region {
	struct mmu_interval_notifier notifier;
	struct page **page_list;
	unsigned long start;
	unsigned long npages;${o.region ?? ''}
};

struct demo_buf {
	struct page **pages;
	int npages;
};

static void demo_region_drop(struct demo_region *r)
{
	unsigned long i;

	for (i = 0; i < r->npages; i++)
		if (r->page_list[i])
			put_page(r->page_list[i]);
}

int demo_region_fault(struct demo_region *r, unsigned long idx)
{
	long got;
${o.fault ?? ''}
	got = get_user_pages_fast(r->start + (idx << PAGE_SHIFT), 1, FOLL_WRITE,
				  &r->page_list[idx]);
	return got == 1 ? 0 : -EFAULT;
}

static bool demo_invalidate(struct mmu_interval_notifier *mni,
			    const struct mmu_notifier_range *range,
			    unsigned long cur_seq)
{
	struct demo_region *r = container_of(mni, struct demo_region, notifier);

	mmu_interval_set_seq(mni, cur_seq);
${o.invalidate ?? '\tdemo_region_drop(r);\n'}	return true;
}

static const struct mmu_interval_notifier_ops demo_mn_ops = {
${o.ops ?? '\t.invalidate = demo_invalidate,\n'}};

static void demo_buf_release(struct demo_buf *b)
{
	int i;

	for (i = 0; i < b->npages; i++)
		put_page(b->pages[i]);
}

int demo_buf_pin(struct demo_buf *b, unsigned long addr)
{
	int got;

	got = get_user_pages_fast(addr, b->npages, FOLL_WRITE, b->pages);
	if (got == b->npages)
		return 0;
	b->npages = got > 0 ? got : 0;
	demo_buf_release(b);
	return -EFAULT;
}
EXPORT_SYMBOL(demo_buf_pin);
${o.more ?? ''}`;
}

/** The acquire lines of the region's group and of the buffer's. */
const REGION_LINE = at(driver(), 'got = get_user_pages_fast(r->');
const BUF_LINE = at(driver(), 'got = get_user_pages_fast(addr');

describe('a notifier manages a group', () => {
  it('whose pages a callback drops, through local calls', () => {
    const text = driver();
    expect(notifier(text)).toEqual([
      [REGION_LINE, `its pages are dropped by the invalidate callback demo_invalidate() (line ${at(text, '.invalidate')}), in demo_region_drop(): ${MANAGED}`],
      [BUF_LINE, undefined],
    ]);
  });

  it('whose pages a callback takes', () => {
    const text = driver({
      invalidate: '',
      ops: '\t.release = demo_release,\n',
      more: '\nstatic void demo_release(struct mmu_notifier *mn, struct mm_struct *mm)\n{\n\tdemo_region_fault(NULL, 0);\n}\n',
    }).replace('struct page **page_list;', 'struct page *slot[1];').replaceAll('r->page_list', 'r->slot');
    expect(notifier(text)).toEqual([
      [REGION_LINE, `its pages are taken by the release callback demo_release() (line ${at(text, '.release')}), in demo_region_fault(): ${MANAGED}`],
      [at(text, 'got = get_user_pages_fast(addr'), undefined],
    ]);
  });

  it('acquired where the range is sampled, or reached from where it is registered', () => {
    const sampled = driver({ invalidate: '', fault: '\tif (mmu_interval_read_begin(&r->notifier) & 1)\n\t\treturn -EAGAIN;\n' });
    expect(notifier(sampled)[0]).toEqual([
      at(sampled, 'got = get_user_pages_fast(r->'),
      `its pages are acquired for the range the notifier tracks: demo_region_fault() calls mmu_interval_read_begin() (line ${at(sampled, 'if (mmu_interval_read_begin')}): ${MANAGED}`,
    ]);
    const registered = driver({
      invalidate: '',
      more: `
int demo_region_init(struct demo_region *r, unsigned long start)
{
	int ret;

	ret = mmu_interval_notifier_insert(&r->notifier, current->mm, start,
					   r->npages << PAGE_SHIFT, &demo_mn_ops);
	if (ret)
		return ret;
	return demo_region_fault(r, 0);
}
`,
    });
    expect(notifier(registered)[0]).toEqual([
      REGION_LINE,
      `its pages are acquired for the range the notifier tracks: demo_region_init() calls mmu_interval_notifier_insert() (line ${at(registered, 'ret = mmu_interval')}) and reaches demo_region_fault(): ${MANAGED}`,
    ]);
  });

  it('whose pages are kept in the struct that holds the notifier', () => {
    const text = driver({ invalidate: '' });
    expect(notifier(text)).toEqual([
      [REGION_LINE, `its pages are kept in ->page_list of struct demo_region, which holds the notifier (line 6): ${MANAGED}`],
      [at(text, 'got = get_user_pages_fast(addr'), undefined],
    ]);
  });

  it('in the file that registers an mm-wide notifier: it tracks every address of the mm', () => {
    const text = driver({ more: '\nint demo_register(struct mmu_notifier *mn)\n{\n\treturn mmu_notifier_register(mn, current->mm);\n}\n' });
    expect(notifier(text)[1]).toEqual([
      BUF_LINE,
      `its pages lie in the range of the mm-wide notifier registered at line ${at(text, 'return mmu_notifier_register')} (mmu_notifier_register() tracks every address of the mm): ${MANAGED}`,
    ]);
  });
});

describe('a group that cannot be told apart from notifier-managed pages', () => {
  it('keeps its pages in a field the struct holding the notifier has too, reached through a pointer of unknown type', () => {
    const region = '\n\tstruct page **pages;\t/* spare, never filled */';
    // Through holders of known types the two `pages` fields are different storage.
    expect(notifier(driver({ region }))[1]).toEqual([BUF_LINE + 1, undefined]);
    const text = driver({ region }).replace('FOLL_WRITE, b->pages);', 'FOLL_WRITE, demo_buf_of(b)->pages);');
    expect(notifier(text)[1]).toEqual([
      BUF_LINE + 1,
      `its pages are kept in a field named pages, which the file also reaches through a pointer of unknown type: it may be the one of struct demo_region, which holds the notifier (line 6): ${APART}`,
    ]);
  });

  it('is released in a function that also releases notifier-managed pages', () => {
    const text = driver({
      invalidate: '',
      more: `
void demo_teardown(struct demo_region *r, struct demo_buf *b)
{
	unsigned long i;

	for (i = 0; i < r->npages; i++)
		put_page(r->page_list[i]);
	for (i = 0; i < b->npages; i++)
		put_page(b->pages[i]);
}
`,
    });
    expect(notifier(text)).toEqual([
      [REGION_LINE, `its pages are kept in ->page_list of struct demo_region, which holds the notifier (line 6): ${MANAGED}`],
      [at(text, 'got = get_user_pages_fast(addr'), `its pages are released in demo_teardown(), which also releases the pages acquired at line ${REGION_LINE}: ${APART}`],
    ]);
  });
});

describe('groups beside a notifier', () => {
  it('convert when nothing ties them to it, and are linked with their partners; the managed group is not', () => {
    const a = analyzeText(driver());
    expect(a.groups[1].hazards).toEqual([]);
    expect(linkNeeds(a)).toMatchObject({ fields: [{ name: 'pages', structs: ['demo_buf'] }], groups: [2] });
  });

  it('are refused as before when the callbacks cannot all be seen', () => {
    const why = (text: string) =>
      `this file is an MMU-notifier user (mmu_interval_notifier_ops, line ${at(text, 'mmu_interval_notifier_ops')}) whose callbacks gup2pin cannot all see: they may drop these pages, which would need no pin`;
    const external = driver({ ops: '\t.invalidate = demo_hw_invalidate,\n' });
    expect(notifier(external)[1]).toEqual([BUF_LINE, why(external)]);
    const declared = driver().replace(/static const struct mmu_interval_notifier_ops demo_mn_ops = \{\n.*\n\};/, 'extern const struct mmu_interval_notifier_ops demo_mn_ops;');
    expect(notifier(declared)[1]).toEqual([at(declared, 'got = get_user_pages_fast(addr'), why(declared)]);
    const passed = driver({
      more: `
int demo_region_init(struct demo_region *r, const struct mmu_interval_notifier_ops *ops)
{
	return mmu_interval_notifier_insert(&r->notifier, current->mm, r->start,
					    r->npages << PAGE_SHIFT, ops);
}
`,
    });
    expect(notifier(passed)[1]).toEqual([BUF_LINE, why(passed)]);
    expect(linkNeeds(analyzeText(passed))).toBeUndefined();
  });
});

describe('the simulator, on a file with a notifier-managed group beside a converted one', () => {
  // One entry point reaches both: the SVM fault (left on FOLL_GET) and the converted ring release.
  const service = `
/* The page request thread: serves a request, and drops the ring of a dead context. */
int nxa_service(struct nxa_svm_region *region, struct nxa_cmdbuf *dead,
		unsigned long addr)
{
	int ret = nxa_svm_fault(region, addr, true);

	if (dead)
		nxa_cmdbuf_unregister(dead);
	return ret;
}
`;
  it('does not expect the pages of the group left alone to be pinned while the device uses them', () => {
    const before = read('notifier-side-group', 'before.c') + service;
    const after = read('notifier-side-group', 'after.6.5.c') + service;
    const gs = verifyTexts(before, after, apiFor(parseVersion('6.5')));
    expect(gs.map((g) => [g.line, g.verdict, g.divergence?.reason, g.differences])).toEqual([
      [88, 'intended', undefined, ['already-dirty-skipped']],
      [211, 'intended', undefined, ['already-dirty-skipped']],
    ]);
  });
});

describe('groups already on the pin API', () => {
  it('are left alone whatever manages their pages: nothing converts, and hfi1 and i915 pin the pages their notifiers watch', () => {
    const pinned = read('neg-odp', 'before.c').replaceAll('get_user_pages_remote(', 'pin_user_pages_remote(').replaceAll('put_page(', 'unpin_user_page(');
    const groups = analyzeText(pinned).groups;
    expect(groups.map((g) => [g.family, g.hazards.map((h) => h.code)])).toEqual([['pin', []]]);
    // The same group on FOLL_GET is the notifier's.
    expect(notifier(read('neg-odp', 'before.c')).map(([, m]) => typeof m)).toEqual(['string']);
  });
});
