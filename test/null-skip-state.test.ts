/**
 * Issue 17, "reaching real release paths": fixtures/null-skip-state is a blit driver whose
 * release loop skips the NULL slots a short pin leaves in its vzalloc()'d array. The loop sits in
 * a `switch` on a state field with fall-through cases, reached from the setup's error path
 * through a helper and, after a transfer, from the work function the ioctl queues (container_of
 * back to the queue) and from the file's release. The in-place conversion keeps the NULL test and
 * must verify equivalent; a bulk unpin over the whole array (the shipped via_dmablit bug)
 * dereferences the NULL slots and must not — and both verdicts must come from scenarios that ran
 * the release, not from none doing so.
 */
import { describe, expect, it } from 'vitest';
import { parseC } from '../src/parse/kernel-c.ts';
import { analyze } from '../src/sites/groups.ts';
import { lowerAnalysed } from '../src/sim/edited.ts';
import { planScenarios, type GupMode } from '../src/sim/scenarios.ts';
import type { Func } from '../src/sim/lower.ts';
import { verifyTexts } from '../src/sim/verify.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { read } from './helpers.ts';

const API = apiFor(parseVersion('6.5'));
const before = read('null-skip-state', 'before.c');
const inPlace = read('null-skip-state', 'after.6.5.c');

/** The in-place loop replaced by one unpin over the whole array, NULL slots included. */
const LOOP = `		for (i = 0; i < sg->num_pages; i++) {
			if ((page = sg->pages[i]) != NULL) {
				unpin_user_pages_dirty_lock(&page, 1,
							    sg->direction == DMA_FROM_DEVICE);
			}
		}
`;
const BULK = `		unpin_user_pages_dirty_lock(sg->pages, sg->num_pages,
					    sg->direction == DMA_FROM_DEVICE);
`;

function verdicts(after: string) {
  return verifyTexts(before, after, API).map((g) => ({
    verdict: g.divergence ? `${g.verdict}/${g.divergence.reason}: ${g.divergence.detail}` : g.verdict,
    scenario: g.divergence?.scenario,
  }));
}

describe('null-skip-state: a NULL-skipping release behind a state switch', () => {
  it('the in-place conversion (NULL test kept) is equivalent, every edited statement and GUP outcome covered', () => {
    expect(inPlace).toContain(LOOP);
    expect(verdicts(inPlace)).toEqual([{ verdict: 'intended', scenario: undefined }]);
    const [g] = verifyTexts(before, inPlace, API);
    // The dirty-lock unpin skips pages the user had already dirtied (the helper does).
    expect(g.differences).toEqual(['already-dirty-skipped']);
    expect(g.coverage!.statements.length).toBeGreaterThan(0);
    expect(g.coverage!.statements.filter((s) => s.runs === 0)).toEqual([]);
    expect(g.coverage!.outcomes.map((o) => [o.outcome, o.runs > 0])).toEqual([
      ['short', true],
      ['zero', true],
      ['errno', true],
    ]);
  });

  it('a bulk unpin over the NULL slots a short pin leaves is not equivalent', () => {
    const bulk = inPlace.replace(LOOP, BULK);
    expect(bulk).not.toBe(inPlace);
    expect(verdicts(bulk)).toEqual([
      {
        verdict: 'not-equivalent/unpin-not-pinned: unpin_user_pages_dirty_lock() on a NULL entry: nothing was pinned there',
        scenario: 'xbl_ioctl() then xbl_workqueue(): 3 pages, get_user_pages_fast() first gets one page short, then the rest',
      },
    ]);
  });

  it('drives the ioctl, then the work function it queued or the file release, and every GUP outcome reaches the teardown', () => {
    const analysis = analyze(before, parseC(before));
    const funcs = lowerAnalysed(analysis).funcs;
    const reaches: Record<string, Partial<Record<GupMode, boolean>>> = {};
    for (const steps of [['xbl_ioctl', 'xbl_workqueue'], ['xbl_ioctl', 'xbl_release']]) {
      const plan = planScenarios(funcs, steps, API, 'get_user_pages_fast');
      const byMode: Partial<Record<GupMode, boolean>> = {};
      for (const s of plan.scenarios.filter((x) => x.flips.length === 0 && !x.folioOrder && !x.zeroPage && !x.writeback && !x.scattered && x.n === 3)) {
        const run = plan.runs.get(s);
        // The teardown ran, and released the pages the mode pinned: none for zero and -errno.
        const released = run.log.filter((l) => /^put_page\(P\d\)/.test(l.trim())).length;
        byMode[s.mode] = run.entered.has('xbl_free_sg') && released === { full: 3, short: 2, 'short-fail': 2, zero: 0, errno: 0, 'later-fail': 3, 'later-short': 3 }[s.mode] && !run.fault;
      }
      reaches[steps.join(' → ')] = byMode;
    }
    const all = { full: true, short: true, 'short-fail': true, zero: true, errno: true };
    expect(reaches).toEqual({ 'xbl_ioctl → xbl_workqueue': all, 'xbl_ioctl → xbl_release': all });
  });
});

/** Does the session's happy path (3 pages, every one pinned) run the teardown in its second step? */
function happyPathReleases(text: string, steps: string[]): boolean {
  const funcs: ReadonlyMap<string, Func> = lowerAnalysed(analyze(text, parseC(text))).funcs;
  const plan = planScenarios(funcs, steps, API, 'get_user_pages_fast');
  const happy = plan.scenarios.find((s) => s.mode === 'full' && s.n === 3 && !s.flips.length && !s.folioOrder && !s.zeroPage && !s.writeback && !s.scattered)!;
  const log = plan.runs.get(happy).log;
  const second = log.indexOf(`${steps[1]}():`);
  return second > 0 && log.slice(second).filter((l) => /^put_page\(P\d\)/.test(l.trim())).length === 3;
}

describe('deferred callbacks get the object the acquiring entry queued', () => {
  const variants: Record<string, Array<[string, string]>> = {
    'a work item': [],
    'a delayed work, container_of() through `dwork.work`': [
      ['struct work_struct work;', 'struct delayed_work dwork;'],
      ['container_of(work, struct xbl_queue, work)', 'container_of(work, struct xbl_queue, dwork.work)'],
      ['queue_work(system_wq, &q->work);', 'queue_delayed_work(system_wq, &q->dwork, HZ);'],
    ],
    'a delayed work, through to_delayed_work()': [
      ['struct work_struct work;', 'struct delayed_work dwork;'],
      ['container_of(work, struct xbl_queue, work)', 'container_of(to_delayed_work(work), struct xbl_queue, dwork)'],
      ['queue_work(system_wq, &q->work);', 'schedule_delayed_work(&q->dwork, HZ);'],
    ],
    'a timer, from_timer()': [
      ['struct work_struct work;', 'struct timer_list timer;'],
      ['static void xbl_workqueue(struct work_struct *work)', 'static void xbl_workqueue(struct timer_list *t)'],
      ['container_of(work, struct xbl_queue, work)', 'from_timer(q, t, timer)'],
      ['queue_work(system_wq, &q->work);', 'mod_timer(&q->timer, jiffies + 1);'],
    ],
  };
  it.each(Object.keys(variants))('%s: the callback tears down what the ioctl pinned', (name) => {
    let text = before;
    for (const [from, to] of variants[name]) {
      expect(text).toContain(from);
      text = text.replace(from, to);
    }
    expect(happyPathReleases(text, ['xbl_ioctl', 'xbl_workqueue'])).toBe(true);
  });
  it('without the queueing call the callback finds nothing to tear down', () => {
    const text = before.replace('queue_work(system_wq, &q->work);', '');
    expect(happyPathReleases(text, ['xbl_ioctl', 'xbl_workqueue'])).toBe(false);
  });
});

/** open → ioctl (pins into a zeroed array, tears down on error) → release, the release behind a state switch. */
const PB = `
enum pb_state { PB_IDLE = 0, PB_ALLOCATED, PB_PINNED };

struct pb_buf {
	struct page **pages;
	unsigned long npages;
	enum pb_state state;
};

static void pb_teardown(struct pb_buf *b)
{
	struct page *p;
	unsigned long i;

	switch (b->state) {
	case PB_PINNED:
		for (i = 0; i < b->npages; i++) {
			p = b->pages[i];
			if (p)
				put_page(p);
		}
		fallthrough;
	case PB_ALLOCATED:
		@FREE@(b->pages);
		b->pages = NULL;
		fallthrough;
	default:
		b->state = PB_IDLE;
	}
}

static int pb_pin(struct pb_buf *b, unsigned long uaddr, size_t len)
{
	int ret;

	b->npages = DIV_ROUND_UP(len, PAGE_SIZE);
	b->pages = @ALLOC@;
	if (!b->pages)
		return -ENOMEM;
	@CLEAR@
	b->state = PB_ALLOCATED;
	ret = get_user_pages_fast(uaddr, b->npages, FOLL_WRITE, b->pages);
	if (ret < 0)
		return ret;
	b->state = PB_PINNED;
	if (ret != b->npages)
		return -EFAULT;
	return 0;
}

static long pb_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct pb_buf *b = filp->private_data;
	struct pb_req req;
	int ret;

	if (copy_from_user(&req, (void __user *)arg, sizeof(req)))
		return -EFAULT;
	if (b->state != PB_IDLE)
		return -EBUSY;
	ret = pb_pin(b, req.addr, req.len);
	if (ret)
		pb_teardown(b);
	return ret;
}

static int pb_release(struct inode *inode, struct file *filp)
{
	struct pb_buf *b = filp->private_data;

	pb_teardown(b);
	kfree(b);
	return 0;
}

static const struct file_operations pb_fops = {
	.release = pb_release,
	.unlocked_ioctl = pb_ioctl,
};
`;

describe('zero-initialised page arrays: a short pin leaves NULL slots the release must skip', () => {
  const allocs: Record<string, [alloc: string, clear: string, free: string]> = {
    kzalloc: ['kzalloc(b->npages * sizeof(*b->pages), GFP_KERNEL)', '', 'kfree'],
    kcalloc: ['kcalloc(b->npages, sizeof(*b->pages), GFP_KERNEL)', '', 'kfree'],
    vzalloc: ['vzalloc(array_size(b->npages, sizeof(struct page *)))', '', 'vfree'],
    kvcalloc: ['kvcalloc(b->npages, sizeof(*b->pages), GFP_KERNEL)', '', 'kvfree'],
    kvzalloc: ['kvzalloc(array_size(b->npages, sizeof(struct page *)), GFP_KERNEL)', '', 'kvfree'],
    __GFP_ZERO: ['kmalloc_array(b->npages, sizeof(*b->pages), GFP_KERNEL | __GFP_ZERO)', '', 'kfree'],
    memset: ['kmalloc_array(b->npages, sizeof(*b->pages), GFP_KERNEL)', 'memset(b->pages, 0, b->npages * sizeof(*b->pages));', 'kfree'],
  };
  it.each(Object.keys(allocs))('%s: in place equivalent, bulk unpin not equivalent', (name) => {
    const [alloc, clear, free] = allocs[name];
    const text = PB.replace('@ALLOC@', alloc).replace('\t@CLEAR@\n', clear ? `\t${clear}\n` : '').replace('@FREE@', free);
    expect(text).not.toContain('@');
    const pinned = text.replace('get_user_pages_fast', 'pin_user_pages_fast');
    const inPlaceText = pinned.replace('put_page(p);', 'unpin_user_page(p);');
    const loop = inPlaceText.slice(inPlaceText.indexOf('\t\tfor (i = 0;'), inPlaceText.indexOf('\t\tfallthrough;'));
    const bulk = inPlaceText.replace(loop, '\t\tunpin_user_pages(b->pages, b->npages);\n');
    expect(verifyTexts(text, inPlaceText, API).map((g) => g.verdict)).toEqual(['equivalent']);
    expect(verifyTexts(text, bulk, API).map((g) => [g.verdict, g.divergence?.reason, g.divergence?.scenario])).toEqual([
      ['not-equivalent', 'unpin-not-pinned', 'pb_ioctl() then pb_release(): 3 pages, get_user_pages_fast() first gets one page short, then the rest'],
    ]);
  });
});
