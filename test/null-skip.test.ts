/**
 * Release loops that test each slot for NULL (H5): converted in place with the test kept when the
 * slots a short pin left are provably NULL, refused with the reason when they are not; and the
 * simulator's zeroed memory (kcalloc, __GFP_ZERO, memset, `= { NULL }`), without which dropping
 * the kept test would not be an unpin of a NULL slot.
 */
import { describe, expect, it } from 'vitest';
import { processText } from '../src/run.ts';
import { verifyTexts } from '../src/sim/verify.ts';
import { apiFor, parseVersion } from '../src/target.ts';

const API = apiFor(parseVersion('6.5'));
const fn = (body: string) => `static int demo(unsigned long uaddr, int n, bool dirty)\n{\n${body}}\n`;
/** A release helper of the file (S11): what its callers pass decides. */
const HELPER = 'static void demo_release(struct page **pages, int n)\n{\n\tint i;\n\n\tfor (i = 0; i < n; i++)\n\t\tif (pages[i])\n\t\t\tput_page(pages[i]);\n}\n';
const verified = (text: string) => processText(text, API, { core: false }, { verify: true });

interface Case {
  name: string;
  before: string;
  after: string;
  /** The simulator's verdict on the conversion: pages dirtied unconditionally were already dirty once. */
  verdict: 'equivalent' | 'intended';
  /** The after text with the kept NULL test dropped, and why the simulator rejects that. */
  dropped: [from: string, to: string, reason: string];
}

const converts: Case[] = [
  {
    name: 'kcalloc array, `if (pages[i])` over the requested count',
    before: fn('\tstruct page **pages;\n\tint i, got;\n\n\tpages = kcalloc(n, sizeof(*pages), GFP_KERNEL);\n\tif (!pages)\n\t\treturn -ENOMEM;\n\tgot = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tfor (i = 0; i < n; i++)\n\t\tif (pages[i])\n\t\t\tput_page(pages[i]);\n\tkfree(pages);\n\treturn got;\n'),
    after: fn('\tstruct page **pages;\n\tint i, got;\n\n\tpages = kcalloc(n, sizeof(*pages), GFP_KERNEL);\n\tif (!pages)\n\t\treturn -ENOMEM;\n\tgot = pin_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tfor (i = 0; i < n; i++)\n\t\tif (pages[i])\n\t\t\tunpin_user_page(pages[i]);\n\tkfree(pages);\n\treturn got;\n'),
    verdict: 'equivalent',
    dropped: ['\t\tif (pages[i])\n', '\t\tif (pages[i] || 1)\n', 'unpin-not-pinned'],
  },
  {
    name: 'stack array `= { NULL }` pinned a page per iteration, `if (!page) continue;`',
    before: fn('\tstruct page *pages[4] = { NULL };\n\tint i, ret;\n\n\tfor (i = 0; i < 4; i++) {\n\t\tret = get_user_pages_fast(uaddr + i * PAGE_SIZE, 1, FOLL_WRITE, &pages[i]);\n\t\tif (ret != 1)\n\t\t\tgoto out;\n\t}\n\tret = 0;\nout:\n\tfor (i = 0; i < 4; i++) {\n\t\tstruct page *page = pages[i];\n\n\t\tif (!page)\n\t\t\tcontinue;\n\t\tset_page_dirty_lock(page);\n\t\tput_page(page);\n\t}\n\treturn ret;\n'),
    after: fn('\tstruct page *pages[4] = { NULL };\n\tint i, ret;\n\n\tfor (i = 0; i < 4; i++) {\n\t\tret = pin_user_pages_fast(uaddr + i * PAGE_SIZE, 1, FOLL_WRITE, &pages[i]);\n\t\tif (ret != 1)\n\t\t\tgoto out;\n\t}\n\tret = 0;\nout:\n\tfor (i = 0; i < 4; i++) {\n\t\tstruct page *page = pages[i];\n\n\t\tif (!page)\n\t\t\tcontinue;\n\t\tunpin_user_pages_dirty_lock(&page, 1, true);\n\t}\n\treturn ret;\n'),
    verdict: 'intended',
    dropped: ['\t\tif (!page)\n', '\t\tif (!page && 0)\n', 'fault'],
  },
  {
    name: 'kmalloc_array() cleared by memset(), `(page = pages[i]) != NULL` with a dirty condition',
    before: fn('\tstruct page **pages, *page;\n\tint i, got;\n\n\tpages = kmalloc_array(n, sizeof(*pages), GFP_KERNEL);\n\tif (!pages)\n\t\treturn -ENOMEM;\n\tmemset(pages, 0, n * sizeof(*pages));\n\tgot = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tfor (i = 0; i < n; i++) {\n\t\tif ((page = pages[i]) != NULL) {\n\t\t\tif (dirty)\n\t\t\t\tset_page_dirty_lock(page);\n\t\t\tput_page(page);\n\t\t}\n\t}\n\tkfree(pages);\n\treturn got;\n'),
    after: fn('\tstruct page **pages, *page;\n\tint i, got;\n\n\tpages = kmalloc_array(n, sizeof(*pages), GFP_KERNEL);\n\tif (!pages)\n\t\treturn -ENOMEM;\n\tmemset(pages, 0, n * sizeof(*pages));\n\tgot = pin_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tfor (i = 0; i < n; i++) {\n\t\tif ((page = pages[i]) != NULL) {\n\t\t\tunpin_user_pages_dirty_lock(&page, 1, dirty);\n\t\t}\n\t}\n\tkfree(pages);\n\treturn got;\n'),
    // `dirty` is false unless a scenario flips it: the helper then unpins the NULL slot. With it
    // flipped and the pages already dirty, the helper skips them (already-dirty-skipped).
    verdict: 'intended',
    dropped: ['if ((page = pages[i]) != NULL) {', 'if ((page = pages[i]) != NULL || 1) {', 'unpin-not-pinned'],
  },
  {
    name: 'a release helper called with a kvcalloc() array',
    before: `${HELPER}\n${fn('\tstruct page **pages;\n\tint got;\n\n\tpages = kvcalloc(n, sizeof(*pages), GFP_KERNEL);\n\tif (!pages)\n\t\treturn -ENOMEM;\n\tgot = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tdemo_release(pages, n);\n\tkvfree(pages);\n\treturn got;\n')}`,
    after: `${HELPER.replace('put_page', 'unpin_user_page')}\n${fn('\tstruct page **pages;\n\tint got;\n\n\tpages = kvcalloc(n, sizeof(*pages), GFP_KERNEL);\n\tif (!pages)\n\t\treturn -ENOMEM;\n\tgot = pin_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tdemo_release(pages, n);\n\tkvfree(pages);\n\treturn got;\n')}`,
    verdict: 'equivalent',
    dropped: ['\t\tif (pages[i])\n', '\t\tif (pages[i] || 1)\n', 'unpin-not-pinned'],
  },
  {
    name: 'kmalloc() with __GFP_ZERO',
    before: fn('\tstruct page **pages;\n\tint i, got;\n\n\tpages = kmalloc(n * sizeof(*pages), GFP_KERNEL | __GFP_ZERO);\n\tif (!pages)\n\t\treturn -ENOMEM;\n\tgot = get_user_pages_fast(uaddr, n, 0, pages);\n\tfor (i = 0; i < n; i++)\n\t\tif (pages[i])\n\t\t\tput_page(pages[i]);\n\tkfree(pages);\n\treturn got;\n'),
    after: fn('\tstruct page **pages;\n\tint i, got;\n\n\tpages = kmalloc(n * sizeof(*pages), GFP_KERNEL | __GFP_ZERO);\n\tif (!pages)\n\t\treturn -ENOMEM;\n\tgot = pin_user_pages_fast(uaddr, n, 0, pages);\n\tfor (i = 0; i < n; i++)\n\t\tif (pages[i])\n\t\t\tunpin_user_page(pages[i]);\n\tkfree(pages);\n\treturn got;\n'),
    verdict: 'equivalent',
    dropped: ['\t\tif (pages[i])\n', '\t\tif (pages[i] || 1)\n', 'unpin-not-pinned'],
  },
];

interface Refusal {
  name: string;
  before: string;
  line: number;
  message: string;
}

const refusals: Refusal[] = [
  {
    name: 'a stack array without an initializer',
    before: fn('\tstruct page *pages[8];\n\tint i, got;\n\n\tgot = get_user_pages_fast(uaddr, 8, FOLL_WRITE, pages);\n\tfor (i = 0; i < 8; i++)\n\t\tif (pages[i])\n\t\t\tput_page(pages[i]);\n\treturn got;\n'),
    line: 9,
    message: "the loop tests 'pages[i]' for NULL, but the slots past the pinned count are not provably NULL: 'pages' is a stack array without an initializer (line 3)",
  },
  {
    name: 'a kmalloc_array() array cleared only after the pin filled it',
    before: fn('\tstruct page **pages;\n\tint i, got;\n\n\tpages = kmalloc_array(n, sizeof(*pages), GFP_KERNEL);\n\tif (!pages)\n\t\treturn -ENOMEM;\n\tgot = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tfor (i = 0; i < n; i++)\n\t\tif (pages[i])\n\t\t\tput_page(pages[i]);\n\tmemset(pages, 0, n * sizeof(*pages));\n\tkfree(pages);\n\treturn got;\n'),
    line: 12,
    message: "the loop tests 'pages[i]' for NULL, but the slots past the pinned count are not provably NULL: 'pages' comes from kmalloc_array() (line 6), which does not zero it",
  },
  {
    name: 'a release helper one of whose callers passes a kmalloc_array() array',
    before: `${HELPER}\n${fn('\tstruct page **pages;\n\tint got;\n\n\tpages = kvcalloc(n, sizeof(*pages), GFP_KERNEL);\n\tif (!pages)\n\t\treturn -ENOMEM;\n\tgot = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tdemo_release(pages, n);\n\tkvfree(pages);\n\treturn got;\n')}\nint demo_small(unsigned long uaddr)\n{\n\tstruct page **few = kmalloc_array(2, sizeof(*few), GFP_KERNEL);\n\tint got;\n\n\tif (!few)\n\t\treturn -ENOMEM;\n\tgot = get_user_pages_fast(uaddr, 2, 0, few);\n\tdemo_release(few, 2);\n\tkfree(few);\n\treturn got;\n}\n`,
    line: 7,
    message: "the loop tests 'pages[i]' for NULL, but the slots past the pinned count are not provably NULL: 'pages' comes from kmalloc_array() (line 26), which does not zero it",
  },
  {
    name: 'a slot written by something other than GUP',
    before: fn('\tstruct page **pages, *spare;\n\tint i, got;\n\n\tpages = kcalloc(n + 1, sizeof(*pages), GFP_KERNEL);\n\tif (!pages)\n\t\treturn -ENOMEM;\n\tgot = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n\tif (get_user_pages_fast(uaddr, 1, 0, &spare) == 1)\n\t\tpages[n] = spare;\n\tfor (i = 0; i < n + 1; i++)\n\t\tif (pages[i])\n\t\t\tput_page(pages[i]);\n\tkfree(pages);\n\treturn got;\n'),
    line: 14,
    message: "the loop tests 'pages[i]' for NULL, but the slots past the pinned count are not provably NULL: 'pages[n]' is also assigned 'spare' (line 11)",
  },
];

describe('NULL-testing release loops over a zeroed array convert, the test kept', () => {
  it.each(converts)('$name', ({ before, after, verdict }) => {
    const { plan, verification } = verified(before);
    expect(plan.output).toBe(after);
    expect([...verification.values()].map((v) => v.verdict)).toEqual([verdict]);
  });

  it.each(converts)('$name: without the test, the after run releases a NULL slot', ({ before, after, dropped: [from, to, reason] }) => {
    expect(after).toContain(from);
    const gs = verifyTexts(before, after.replace(from, to), API);
    expect(gs.map((g) => [g.verdict, g.divergence?.reason])).toEqual([['not-equivalent', reason]]);
  });
});

describe('NULL-testing release loops over an array not provably zeroed are refused', () => {
  it.each(refusals)('$name', ({ before, line, message }) => {
    const { plan } = verified(before);
    expect(plan.output).toBe(before);
    expect(plan.groups.map((g) => [g.verdict, g.diagnostics])).toEqual([['refused', [{ code: 'null-skip', line, message }]]]);
  });
});
