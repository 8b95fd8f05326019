/**
 * Releases under a spinlock, judged against the original (src/plan/atomic.ts): the findings a
 * converted or already pinned group carries, as scan and --json print them. The converting and
 * refused shapes themselves are fixtures (spinlock-dirty-lock, spinlock-setdirty, neg-spinlock,
 * linked/usnic).
 */
import { describe, expect, it } from 'vitest';
import { fileReport, reportJson, reportLines } from '../src/emit/report.ts';
import { processText } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';

const API = apiFor(parseVersion('6.5'));

/** A driver already on the pin API; `DIRTY` is its make_dirty argument. */
const PINNED = `
struct xp_buf { spinlock_t lock; struct page **pages; int npages; bool written; };

int xp_map(struct xp_buf *b, unsigned long uaddr, int n)
{
	int got = pin_user_pages_fast(uaddr, n, FOLL_WRITE, b->pages);

	if (got != n) {
		if (got > 0)
			unpin_user_pages(b->pages, got);
		return -EFAULT;
	}
	b->npages = got;
	return 0;
}

static void xp_release(struct xp_buf *b)
{
	unpin_user_pages_dirty_lock(b->pages, b->npages, DIRTY);
}

void xp_unmap(struct xp_buf *b)
{
	unsigned long flags;

	spin_lock_irqsave(&b->lock, flags);
	xp_release(b);
	spin_unlock_irqrestore(&b->lock, flags);
}
`;

function scan(text: string) {
  const { plan, verification } = processText(text, API, { core: false }, { verify: true });
  return fileReport('xp.c', plan, verification);
}

describe('sleep-in-atomic findings', () => {
  it("are reported on a pinned group whose dirtying unpin runs under a caller's spinlock", () => {
    const report = scan(PINNED.replace('DIRTY', 'b->written'));
    expect(reportLines(report)).toEqual([
      'xp.c:6: already-pinned ok: pin_user_pages_fast() released with unpin_user_pages(), unpin_user_pages_dirty_lock() at lines 10, 19; ' +
        'finding: unpin_user_pages_dirty_lock() at line 19 already sleeps under spin_lock_irqsave(&b->lock, flags) at line 26 (pre-existing)',
    ]);
    expect(reportJson([report], API).files[0].groups[0].findings).toEqual([
      { code: 'sleep-in-atomic', line: 19, message: 'unpin_user_pages_dirty_lock() at line 19 already sleeps under spin_lock_irqsave(&b->lock, flags) at line 26 (pre-existing)' },
    ]);
  });

  it('are not reported when make_dirty is a literal false, or outside the lock', () => {
    expect(reportLines(scan(PINNED.replace('DIRTY', 'false')))).toEqual([
      'xp.c:6: already-pinned ok: pin_user_pages_fast() released with unpin_user_pages(), unpin_user_pages_dirty_lock() at lines 10, 19',
    ]);
    const unlocked = PINNED.replace('DIRTY', 'b->written').replace('\tspin_lock_irqsave(&b->lock, flags);\n\txp_release(b);', '\txp_release(b);\n\tspin_lock_irqsave(&b->lock, flags);');
    expect(reportJson([scan(unlocked)], API).files[0].groups[0].findings).toEqual([]);
  });

  it('follow the release into a converted group, with the sleeping call of the original', () => {
    const gup = PINNED.replace('pin_user_pages_fast(', 'get_user_pages_fast(')
      .replace('unpin_user_pages(b->pages, got);', 'release_pages(b->pages, got);')
      .replace('\tunpin_user_pages_dirty_lock(b->pages, b->npages, DIRTY);', '\tint i;\n\n\tfor (i = 0; i < b->npages; i++) {\n\t\tif (b->written)\n\t\t\tset_page_dirty_lock(b->pages[i]);\n\t\tput_page(b->pages[i]);\n\t}');
    const report = scan(gup);
    expect(report.groups[0]).toMatchObject({
      verdict: 'converted',
      findings: [{ code: 'sleep-in-atomic', line: 23, message: 'set_page_dirty_lock() at line 23 already sleeps under spin_lock_irqsave(&b->lock, flags) at line 32 (pre-existing)' }],
    });
    // The helper skips pages already dirty: the difference scan names for the whole-loop rewrite.
    expect([report.verification.get(1)?.verdict, report.verification.get(1)?.differences]).toEqual(['intended', ['already-dirty-skipped']]);
  });

  it('keep SetPageDirty() in a loop that stays, and the whole loop refused', () => {
    // The slot clearing keeps the loop: each page is a page-pair, SetPageDirty() stays as written.
    const gup = PINNED.replace('pin_user_pages_fast(', 'get_user_pages_fast(')
      .replace('unpin_user_pages(b->pages, got);', 'release_pages(b->pages, got);')
      .replace('\tunpin_user_pages_dirty_lock(b->pages, b->npages, DIRTY);', '\tint i;\n\n\tfor (i = 0; i < b->npages; i++) {\n\t\tif (b->written)\n\t\t\tSetPageDirty(b->pages[i]);\n\t\tput_page(b->pages[i]);\n\t\tb->pages[i] = NULL;\n\t}');
    const kept = processText(gup, API, { core: false }, { verify: true });
    expect(kept.plan.output).toContain('\t\tif (b->written)\n\t\t\tSetPageDirty(b->pages[i]);\n\t\tunpin_user_page(b->pages[i]);\n\t\tb->pages[i] = NULL;\n');
    expect(kept.verification.get(1)?.verdict).toBe('equivalent');
    // Without it, the loop is a whole-loop release whose only rewrite would sleep.
    const whole = processText(gup.replace('\t\tb->pages[i] = NULL;\n', ''), API);
    expect(whole.plan.groups[0]).toMatchObject({
      verdict: 'refused',
      diagnostics: [{ code: 'atomic-context', line: 24, message: 'xp_release() releases under a spinlock: the dirtying unpin would take the page lock and may sleep' }],
    });
    expect(whole.plan.output).toBe(gup.replace('\t\tb->pages[i] = NULL;\n', ''));
  });
});
