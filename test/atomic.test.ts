/**
 * Releases under a spinlock, judged against the original (src/plan/atomic.ts): the findings a
 * converted or already pinned group carries, as scan and --json print them. The converting and
 * refused shapes themselves are fixtures (spinlock-dirty-lock, spinlock-setdirty, neg-spinlock,
 * linked/usnic). Each runs on the file as read from disk, with LF endings and with CRLF ones.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportJson, reportLines } from '../src/emit/report.ts';
import { run } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { scratchDir } from './helpers.ts';

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

/** The two line endings every test runs with: `eol` writes a test's LF text with them. */
const ENDINGS = [
  { name: 'LF', eol: (text: string) => text },
  { name: 'CRLF', eol: (text: string) => text.replaceAll('\n', '\r\n') },
];

describe.each(ENDINGS)('sleep-in-atomic findings ($name)', ({ eol }) => {
  /** `text` (LF) as xp.c with these endings, run as the CLI runs it: its result. */
  async function scan(text: string, verify = true) {
    const dir = scratchDir();
    writeFileSync(join(dir, 'xp.c'), eol(text));
    const { files, problems } = await run([dir], API, dir, { verify });
    expect(problems).toEqual([]);
    expect(files).toHaveLength(1);
    return files[0];
  }

  it("are reported on a pinned group whose dirtying unpin runs under a caller's spinlock", async () => {
    const report = await scan(PINNED.replace('DIRTY', 'b->written'));
    expect(reportLines(report)).toEqual([
      'xp.c:6: already-pinned ok: pin_user_pages_fast() released with unpin_user_pages(), unpin_user_pages_dirty_lock() at lines 10, 19; ' +
        'finding: unpin_user_pages_dirty_lock() at line 19 already sleeps under spin_lock_irqsave(&b->lock, flags) at line 26 (pre-existing)',
    ]);
    expect(reportJson([report], API).files[0].groups[0].findings).toEqual([
      { code: 'sleep-in-atomic', line: 19, message: 'unpin_user_pages_dirty_lock() at line 19 already sleeps under spin_lock_irqsave(&b->lock, flags) at line 26 (pre-existing)' },
    ]);
  });

  it('are not reported when make_dirty is a literal false, or outside the lock', async () => {
    expect(reportLines(await scan(PINNED.replace('DIRTY', 'false')))).toEqual([
      'xp.c:6: already-pinned ok: pin_user_pages_fast() released with unpin_user_pages(), unpin_user_pages_dirty_lock() at lines 10, 19',
    ]);
    const unlocked = PINNED.replace('DIRTY', 'b->written').replace('\tspin_lock_irqsave(&b->lock, flags);\n\txp_release(b);', '\txp_release(b);\n\tspin_lock_irqsave(&b->lock, flags);');
    expect(reportJson([await scan(unlocked)], API).files[0].groups[0].findings).toEqual([]);
  });

  it('follow the release into a converted group, with the sleeping call of the original', async () => {
    const gup = PINNED.replace('pin_user_pages_fast(', 'get_user_pages_fast(')
      .replace('unpin_user_pages(b->pages, got);', 'release_pages(b->pages, got);')
      .replace('\tunpin_user_pages_dirty_lock(b->pages, b->npages, DIRTY);', '\tint i;\n\n\tfor (i = 0; i < b->npages; i++) {\n\t\tif (b->written)\n\t\t\tset_page_dirty_lock(b->pages[i]);\n\t\tput_page(b->pages[i]);\n\t}');
    const report = await scan(gup);
    expect(report.groups[0]).toMatchObject({
      verdict: 'converted',
      findings: [{ code: 'sleep-in-atomic', line: 23, message: 'set_page_dirty_lock() at line 23 already sleeps under spin_lock_irqsave(&b->lock, flags) at line 32 (pre-existing)' }],
    });
    // The helper skips pages already dirty: the difference scan names for the whole-loop rewrite.
    expect([report.verification.get(1)?.verdict, report.verification.get(1)?.differences]).toEqual(['intended', ['already-dirty-skipped']]);
  });

  it('keep SetPageDirty() in a loop that stays, and the whole loop refused', async () => {
    // The slot clearing keeps the loop: each page is a page-pair, SetPageDirty() stays as written.
    const gup = PINNED.replace('pin_user_pages_fast(', 'get_user_pages_fast(')
      .replace('unpin_user_pages(b->pages, got);', 'release_pages(b->pages, got);')
      .replace('\tunpin_user_pages_dirty_lock(b->pages, b->npages, DIRTY);', '\tint i;\n\n\tfor (i = 0; i < b->npages; i++) {\n\t\tif (b->written)\n\t\t\tSetPageDirty(b->pages[i]);\n\t\tput_page(b->pages[i]);\n\t\tb->pages[i] = NULL;\n\t}');
    const kept = await scan(gup);
    expect(kept.output).toContain(eol('\t\tif (b->written)\n\t\t\tSetPageDirty(b->pages[i]);\n\t\tunpin_user_page(b->pages[i]);\n\t\tb->pages[i] = NULL;\n'));
    expect(kept.verification.get(1)?.verdict).toBe('equivalent');
    // Without it, the loop is a whole-loop release whose only rewrite would sleep.
    const whole = await scan(gup.replace('\t\tb->pages[i] = NULL;\n', ''), false);
    expect(whole.groups[0]).toMatchObject({
      verdict: 'refused',
      diagnostics: [{ code: 'atomic-context', line: 24, message: 'xp_release() releases under a spinlock: the dirtying unpin would take the page lock and may sleep' }],
    });
    expect(whole.output).toBe(eol(gup.replace('\t\tb->pages[i] = NULL;\n', '')));
  });
});
