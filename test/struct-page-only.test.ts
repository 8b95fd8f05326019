/**
 * pin_user_pages.rst case 4: GUP users that only read struct page metadata stay on FOLL_GET
 * (refused `struct-page-only`), and each thing that makes a use more than that — a value read
 * from the page reaching a call while it is held, a store that outlives the function, a call
 * outside the metadata vocabulary, the data itself — leaves the group to the normal rules.
 * Without the rule it tests, every `converts` case here would be refused.
 */
import { describe, expect, it } from 'vitest';
import { convert } from './helpers.ts';

const verdicts = (before: string) =>
  convert(before, '6.5').groups.map((g) => [g.verdict, ...g.diagnostics.map((d) => `${d.line}: ${d.code}: ${d.message}`)]);

const refused: Array<{ name: string; before: string; line: number; message: string }> = [
  {
    name: "sgi-gru's lookup: the physical address is stored for the caller, the page dropped",
    before: `static int demo_lookup(unsigned long uaddr, int write, unsigned long *paddr)
{
	struct page *page;

	if (get_user_pages(uaddr, 1, write ? FOLL_WRITE : 0, &page, NULL) <= 0)
		return -EFAULT;
	*paddr = page_to_phys(page);
	put_page(page);
	return 0;
}

int demo_translate(unsigned long uaddr, unsigned long *paddr)
{
	return demo_lookup(uaddr, 0, paddr);
}
`,
    line: 5,
    message: 'get_user_pages() here only reads page metadata (page_to_phys()), never the data (release at line 8): FOLL_GET is right (pin_user_pages.rst case 4)',
  },
  {
    name: 'Page*() tests in a helper given the page, ->mapping, a folio test, page_to_nid()',
    before: `static bool demo_page_is_file(struct page *page)
{
	return !PageAnon(page) && page->mapping;
}

int demo_check(unsigned long uaddr, int *node)
{
	struct page *page;
	struct folio *folio;
	int ret = 0;

	if (get_user_pages_fast(uaddr, 1, 0, &page) != 1)
		return -EFAULT;
	folio = page_folio(page);
	if (demo_page_is_file(page) || folio_test_large(folio))
		ret = -EINVAL;
	else
		*node = page_to_nid(page);
	put_page(page);
	return ret;
}
`,
    line: 12,
    message: 'get_user_pages_fast() here only reads page metadata (PageAnon(), ->mapping, folio_test_large(), page_to_nid()), never the data (release at line 19): FOLL_GET is right (pin_user_pages.rst case 4)',
  },
];

const converted: Array<{ name: string; before: string }> = [
  {
    name: 'the physical address reaches a call while the page is held (DMA by address)',
    before: `int demo_fw_read(unsigned long uaddr)
{
	struct page *page;
	phys_addr_t phys;
	int ret;

	if (get_user_pages_fast(uaddr, 1, FOLL_WRITE, &page) != 1)
		return -EFAULT;
	phys = page_to_phys(page) >> PAGE_SHIFT;
	ret = demo_fw_fill(phys);
	put_page(page);
	return ret;
}
`,
  },
  {
    name: 'the address is stored in a device structure, then a call runs while the page is held',
    before: `int demo_kick(struct demo_dev *dev, unsigned long uaddr)
{
	struct page *page;
	int ret;

	if (get_user_pages_fast(uaddr, 1, FOLL_WRITE, &page) != 1)
		return -EFAULT;
	dev->dst = page_to_phys(page);
	ret = demo_hw_run(dev);
	put_page(page);
	return ret;
}
`,
  },
  {
    name: "a helper fills the caller's descriptor through a parameter, submitted while held",
    before: `struct demo_desc {
	u64 addr;
};

static void demo_fill(struct demo_desc *d, struct page *page)
{
	d->addr = page_to_phys(page);
}

int demo_go(unsigned long uaddr)
{
	struct demo_desc desc;
	struct page *page;
	int ret;

	if (get_user_pages_fast(uaddr, 1, FOLL_WRITE, &page) != 1)
		return -EFAULT;
	demo_fill(&desc, page);
	ret = demo_hw_submit(&desc);
	put_page(page);
	return ret;
}
`,
  },
  {
    name: 'a pfn is the page (it can be turned back into it): stored for the caller',
    before: `static int demo_pfn(unsigned long uaddr, unsigned long *pfn)
{
	struct page *page;

	if (get_user_pages_fast(uaddr, 1, 0, &page) != 1)
		return -EFAULT;
	*pfn = page_to_pfn(page);
	put_page(page);
	return 0;
}

int demo_frame(unsigned long uaddr, unsigned long *pfn)
{
	return demo_pfn(uaddr, pfn);
}
`,
  },
  {
    name: 'the page is passed to a function outside the metadata vocabulary',
    before: `int demo_unknown(unsigned long uaddr)
{
	struct page *page;
	int nid;

	if (get_user_pages_fast(uaddr, 1, 0, &page) != 1)
		return -EFAULT;
	nid = page_to_nid(page);
	demo_account(page);
	put_page(page);
	return nid;
}
`,
  },
  {
    name: 'the data is read through kmap_local_page()',
    before: `int demo_peek(unsigned long uaddr, u32 *val, phys_addr_t *phys)
{
	struct page *page;
	u32 *va;

	if (get_user_pages_fast(uaddr, 1, 0, &page) != 1)
		return -EFAULT;
	*phys = page_to_phys(page);
	va = kmap_local_page(page);
	*val = va[0];
	kunmap_local(va);
	put_page(page);
	return 0;
}
`,
  },
  {
    name: 'the page is returned by the function that takes it',
    before: `static struct page *demo_get(unsigned long uaddr)
{
	struct page *page;

	if (get_user_pages_fast(uaddr, 1, 0, &page) != 1)
		return NULL;
	return page;
}

int demo_node(unsigned long uaddr)
{
	struct page *page = demo_get(uaddr);
	int nid;

	if (!page)
		return -EFAULT;
	nid = page_to_nid(page);
	put_page(page);
	return nid;
}
`,
  },
  {
    name: 'the pages array comes from callers outside the file',
    before: `int demo_nodes(unsigned long uaddr, int n, struct page **pages, int *nodes)
{
	int got, i;

	got = get_user_pages_fast(uaddr, n, 0, pages);
	if (got <= 0)
		return got;
	for (i = 0; i < got; i++)
		nodes[i] = page_to_nid(pages[i]);
	for (i = 0; i < got; i++)
		put_page(pages[i]);
	return got;
}
`,
  },
  {
    name: 'the page is kept in a static local, which outlives the call',
    before: `static int demo_node(unsigned long uaddr)
{
	static struct page *last;
	struct page *page;

	if (get_user_pages_fast(uaddr, 1, 0, &page) != 1)
		return -EFAULT;
	last = page;
	put_page(page);
	return page_to_nid(last);
}

int demo_where(unsigned long uaddr)
{
	return demo_node(uaddr);
}
`,
  },
  {
    name: 'a release already on put_user_page(): moved to tracking on purpose, only renamed',
    before: `int demo_phys(unsigned long uaddr, phys_addr_t *phys)
{
	struct page *page;

	if (get_user_pages_fast(uaddr, 1, 0, &page) != 1)
		return -EFAULT;
	*phys = page_to_phys(page);
	put_user_page(page);
	return 0;
}
`,
  },
];

describe('struct-page-only', () => {
  it.each(refused)('refuses: $name', ({ before, line, message }) => {
    const plan = convert(before, '6.5');
    expect(plan.output).toBe(before);
    expect(verdicts(before)).toEqual([['refused', `${line}: struct-page-only: ${message}`]]);
  });
  it.each(converted)('converts: $name', ({ before }) => {
    expect(verdicts(before)).toEqual([['converted']]);
    expect(convert(before, '6.5').output).toMatch(/pin_user_pages(_fast)?\(/);
  });
});
