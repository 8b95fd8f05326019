/**
 * Each transform in isolation, ESLint-rule style: small kernel functions that must convert to
 * exactly this, and ones that must be refused with exactly this code.
 */
import { describe, expect, it } from 'vitest';
import { convert } from './helpers.ts';

const fn = (body: string) => `static int demo(unsigned long uaddr, int n, bool dirty)\n{\n${body}}\n`;

interface Case {
  name: string;
  target?: string;
  before: string;
  after: string;
}

const converts: Case[] = [
  {
    name: 'whole-loop: plain put_page loop, counter declaration removed',
    before: fn('\tstruct page *pages[8];\n\tint i, got;\n\n\tgot = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tif (got <= 0)\n\t\treturn got;\n\tfor (i = 0; i < got; ++i)\n\t\tput_page(pages[i]);\n\treturn 0;\n'),
    after: fn('\tstruct page *pages[8];\n\tint got;\n\n\tgot = pin_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tif (got <= 0)\n\t\treturn got;\n\tunpin_user_pages(pages, got);\n\treturn 0;\n'),
  },
  {
    name: 'whole-loop: negative count guarded (H6)',
    before: fn('\tstruct page *pages[8];\n\tint i, got;\n\n\tgot = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tfor (i = 0; i < got; i++)\n\t\tput_page(pages[i]);\n\treturn got;\n'),
    after: fn('\tstruct page *pages[8];\n\tint got;\n\n\tgot = pin_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tif (got > 0)\n\t\tunpin_user_pages(pages, got);\n\treturn got;\n'),
  },
  {
    name: 'whole-loop: guard with 5.3 conditional dirty gets braces',
    target: '5.3',
    before: fn('\tstruct page *pages[8];\n\tint i, got;\n\n\tgot = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tfor (i = 0; i < got; i++) {\n\t\tif (dirty)\n\t\t\tset_page_dirty_lock(pages[i]);\n\t\tput_page(pages[i]);\n\t}\n\treturn got;\n'),
    after: fn('\tstruct page *pages[8];\n\tint got;\n\n\tgot = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tif (got > 0) {\n\t\tif (dirty)\n\t\t\tput_user_pages_dirty_lock(pages, got);\n\t\telse\n\t\t\tput_user_pages(pages, got);\n\t}\n\treturn got;\n'),
  },
  {
    name: 'whole-loop: a replacement longer than 80 columns is wrapped, aligned with the open parenthesis',
    before: fn('\tstruct page **pages = ctx->shared_tlb_pages;\n\tint i;\n\n\tif (get_user_pages_fast(uaddr, ctx->num_shared_tlb_pages, FOLL_WRITE, pages) != ctx->num_shared_tlb_pages)\n\t\treturn -EFAULT;\n\tif (dirty) {\n\t\tfor (i = 0; i < ctx->num_shared_tlb_pages; i++) {\n\t\t\tset_page_dirty_lock(ctx->shared_tlb_pages[i]);\n\t\t\tput_page(ctx->shared_tlb_pages[i]);\n\t\t}\n\t}\n\treturn 0;\n'),
    after: fn('\tstruct page **pages = ctx->shared_tlb_pages;\n\n\tif (pin_user_pages_fast(uaddr, ctx->num_shared_tlb_pages, FOLL_WRITE, pages) != ctx->num_shared_tlb_pages)\n\t\treturn -EFAULT;\n\tif (dirty) {\n\t\tunpin_user_pages_dirty_lock(ctx->shared_tlb_pages,\n\t\t\t\t\t    ctx->num_shared_tlb_pages, true);\n\t}\n\treturn 0;\n'),
  },
  {
    name: 'whole-loop: a __free_page() loop over GUP pages is a release like put_page()',
    before: fn('\tstruct page *pages[8];\n\tint i, got;\n\n\tgot = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tif (got <= 0)\n\t\treturn got;\n\tfor (i = 0; i < got; i++)\n\t\t__free_page(pages[i]);\n\treturn 0;\n'),
    after: fn('\tstruct page *pages[8];\n\tint got;\n\n\tgot = pin_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tif (got <= 0)\n\t\treturn got;\n\tunpin_user_pages(pages, got);\n\treturn 0;\n'),
  },
  {
    name: "page-pair: page_cache_release(), put_page()'s name before 4.6, dirtied first",
    before: fn('\tstruct page *page;\n\n\tif (get_user_pages_fast(uaddr, 1, FOLL_WRITE, &page) != 1)\n\t\treturn -EFAULT;\n\tif (dirty)\n\t\tset_page_dirty_lock(page);\n\tpage_cache_release(page);\n\treturn 0;\n'),
    after: fn('\tstruct page *page;\n\n\tif (pin_user_pages_fast(uaddr, 1, FOLL_WRITE, &page) != 1)\n\t\treturn -EFAULT;\n\tunpin_user_pages_dirty_lock(&page, 1, dirty);\n\treturn 0;\n'),
  },
  {
    name: 'page-pair: per-element dirty condition keeps the loop',
    before: fn('\tstruct page *pages[8];\n\tint i, got;\n\n\tgot = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tif (got < 0)\n\t\treturn got;\n\tfor (i = 0; i < got; i++) {\n\t\tif (i & 1)\n\t\t\tset_page_dirty_lock(pages[i]);\n\t\tput_page(pages[i]);\n\t}\n\treturn 0;\n'),
    after: fn('\tstruct page *pages[8];\n\tint i, got;\n\n\tgot = pin_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tif (got < 0)\n\t\treturn got;\n\tfor (i = 0; i < got; i++) {\n\t\tunpin_user_pages_dirty_lock(&pages[i], 1, i & 1);\n\t}\n\treturn 0;\n'),
  },
  {
    name: 'page-pair: a counter read after the loop keeps the loop',
    before: fn('\tstruct page *pages[8];\n\tint i, got;\n\n\tgot = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tif (got < 0)\n\t\treturn got;\n\tfor (i = 0; i < got; i++)\n\t\tput_page(pages[i]);\n\treturn i;\n'),
    after: fn('\tstruct page *pages[8];\n\tint i, got;\n\n\tgot = pin_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tif (got < 0)\n\t\treturn got;\n\tfor (i = 0; i < got; i++)\n\t\tunpin_user_page(pages[i]);\n\treturn i;\n'),
  },
  {
    name: 'page-pair: unlocked set_page_dirty is kept, only the put changes (H7)',
    before: fn('\tstruct page *page;\n\n\tif (get_user_pages_fast(uaddr, 1, FOLL_WRITE, &page) != 1)\n\t\treturn -EFAULT;\n\tset_page_dirty(page);\n\tput_page(page);\n\treturn 0;\n'),
    after: fn('\tstruct page *page;\n\n\tif (pin_user_pages_fast(uaddr, 1, FOLL_WRITE, &page) != 1)\n\t\treturn -EFAULT;\n\tset_page_dirty(page);\n\tunpin_user_page(page);\n\treturn 0;\n'),
  },
  {
    name: 'acquire: FOLL_GET dropped, int write becomes gup_flags, never a constant (H11)',
    before: fn('\tstruct page *page;\n\n\tif (get_user_pages_fast(uaddr, 1, dirty, &page) != 1)\n\t\treturn -EFAULT;\n\tput_page(page);\n\tif (get_user_pages_unlocked(uaddr, 1, &page, FOLL_GET) != 1)\n\t\treturn -EFAULT;\n\tput_page(page);\n\treturn 0;\n'),
    after: fn('\tstruct page *page;\n\n\tif (pin_user_pages_fast(uaddr, 1, dirty ? FOLL_WRITE : 0, &page) != 1)\n\t\treturn -EFAULT;\n\tunpin_user_page(page);\n\tif (pin_user_pages_unlocked(uaddr, 1, &page, 0) != 1)\n\t\treturn -EFAULT;\n\tunpin_user_page(page);\n\treturn 0;\n'),
  },
  {
    name: 'acquire: __get_user_pages_fast becomes pin_user_pages_fast_only, continuation realigned',
    before: fn('\tstruct page *page;\n\n\tif (__get_user_pages_fast(uaddr, 1, 1,\n\t\t\t\t  &page) != 1)\n\t\treturn -EFAULT;\n\tput_page(page);\n\treturn 0;\n'),
    after: fn('\tstruct page *page;\n\n\tif (pin_user_pages_fast_only(uaddr, 1, FOLL_WRITE,\n\t\t\t\t     &page) != 1)\n\t\treturn -EFAULT;\n\tunpin_user_page(page);\n\treturn 0;\n'),
  },
  {
    name: 'acquire: 5.6 keeps vmas, 5.9 drops tsk of *_remote',
    target: '5.9',
    before: fn('\tstruct page *page;\n\n\tif (get_user_pages_remote(current, current->mm, uaddr, 1, 0, &page, NULL, NULL) != 1)\n\t\treturn -EFAULT;\n\tput_page(page);\n\treturn 0;\n'),
    after: fn('\tstruct page *page;\n\n\tif (pin_user_pages_remote(current->mm, uaddr, 1, 0, &page, NULL, NULL) != 1)\n\t\treturn -EFAULT;\n\tunpin_user_page(page);\n\treturn 0;\n'),
  },
];

interface Refusal {
  name: string;
  target?: string;
  before: string;
  code: string;
}

const refusals: Refusal[] = [
  {
    name: 'vmas array in use on 6.5',
    before: fn('\tstruct page *page;\n\tstruct vm_area_struct *vma;\n\n\tif (get_user_pages(uaddr, 1, 0, &page, &vma) != 1)\n\t\treturn -EFAULT;\n\tput_page(page);\n\treturn 0;\n'),
    code: 'vmas',
  },
  {
    name: 'pin_user_pages_fast_only does not exist before 5.8',
    target: '5.6',
    before: fn('\tstruct page *page;\n\n\tif (__get_user_pages_fast(uaddr, 1, 1, &page) != 1)\n\t\treturn -EFAULT;\n\tput_page(page);\n\treturn 0;\n'),
    code: 'target-api',
  },
  {
    name: 'released elsewhere: no release in the file (H3)',
    before: 'int demo_pin(unsigned long uaddr, int n, struct page **pages)\n{\n\treturn get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n}\n',
    code: 'no-release',
  },
  {
    name: 'handed to an skb frag that puts it later (H2)',
    before: fn('\tstruct page *page;\n\n\tif (get_user_pages_fast(uaddr, 1, 0, &page) != 1)\n\t\treturn -EFAULT;\n\tskb_fill_page_desc(demo_skb, 0, page, 0, n);\n\tput_page(page);\n\treturn 0;\n'),
    code: 'escape',
  },
  {
    name: 'a GUP page freed as a higher-order block: no unpin stands for it',
    before: fn('\tstruct page *page;\n\n\tif (get_user_pages_fast(uaddr, 1, 0, &page) != 1)\n\t\treturn -EFAULT;\n\t__free_pages(page, 1);\n\treturn 0;\n'),
    code: 'release-kind',
  },
  {
    name: 'free_page() of a page array is no release of its pages: they are released elsewhere',
    before: fn('\tstruct page **pages = (struct page **)__get_free_page(GFP_KERNEL);\n\n\tif (get_user_pages_fast(uaddr, 1, 0, pages) != 1)\n\t\treturn -EFAULT;\n\tfree_page((unsigned long)pages);\n\treturn 0;\n'),
    code: 'no-release',
  },
  {
    name: 'pinned pages released with put_page (the rds mismatch, §2.5)',
    before: fn('\tstruct page *page;\n\n\tif (pin_user_pages_fast(uaddr, 1, 0, &page) != 1)\n\t\treturn -EFAULT;\n\tput_page(page);\n\treturn 0;\n'),
    code: 'pin-put-mismatch',
  },
];

describe('converts', () => {
  it.each(converts)('$name', ({ before, after, target }) => {
    expect(convert(before, target ?? '6.5').output).toBe(after);
  });
});

describe('refuses', () => {
  it.each(refusals)('$name', ({ before, code, target }) => {
    const plan = convert(before, target ?? '6.5');
    expect(plan.output).toBe(before);
    expect(plan.groups.map((g) => [g.verdict, g.diagnostics[0]?.code])).toEqual([['refused', code]]);
  });
});
