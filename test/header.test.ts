/**
 * A GUP wrapper inline in a header (6.5+ mm.h's get_user_page_vma_remote() shape): the page it
 * returns is released by every file that includes the header, so its group is refused, not
 * converted with the error-path release the header holds. The same function in a .c file, whose
 * callers are all in the file, converts with them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportLines } from '../src/emit/report.ts';
import { run } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { scratchDir } from './helpers.ts';

/** The wrapper: one page of another mm, with the VMA it lies in; the error path puts the page. */
const WRAPPER = `static inline struct page *remote_page_vma(struct mm_struct *mm,
					       unsigned long addr, int gup_flags,
					       struct vm_area_struct **vmap)
{
	struct page *page;
	struct vm_area_struct *vma;
	int got;

	got = get_user_pages_remote(mm, addr, 1, gup_flags, &page, NULL);
	if (got < 0)
		return ERR_PTR(got);

	vma = vma_lookup(mm, addr);
	if (WARN_ON_ONCE(!vma)) {
		put_page(page);
		return ERR_PTR(-EINVAL);
	}

	*vmap = vma;
	return page;
}
`;

/** A caller: peeks at the page, then drops it. */
const CALLER = `static int peek_remote(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;
	struct page *page;

	page = remote_page_vma(mm, addr, FOLL_FORCE, &vma);
	if (IS_ERR(page))
		return PTR_ERR(page);
	put_page(page);
	return 0;
}
`;

async function scan(files: Record<string, string>): Promise<string[]> {
  const root = scratchDir();
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const result = await run([root], apiFor(parseVersion('6.5')), root);
  return result.files.flatMap((f) => reportLines(f));
}

describe('a GUP wrapper inline in a header', () => {
  it('is refused: any file that includes the header may release the page it returns', async () => {
    const header = `/* SPDX-License-Identifier: GPL-2.0 */\n#ifndef _LINUX_REMOTE_PAGE_H\n#define _LINUX_REMOTE_PAGE_H\n\n${WRAPPER}\n#endif\n`;
    expect(await scan({ 'include/linux/remote_page.h': header, 'drivers/peek/peek.c': `#include <linux/remote_page.h>\n\n${CALLER}` })).toEqual([
      'include/linux/remote_page.h:13: refused escape: the pinned pages leave through remote_page_vma(), defined in a header: any file that includes it may release them',
    ]);
  });

  it('converts in a .c file, where the callers releasing the page are the file’s own', async () => {
    const lines = await scan({ 'drivers/peek/peek.c': `${WRAPPER}\n${CALLER}` });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^drivers\/peek\/peek\.c:9: converted acquire\+/);
  });
});
