/**
 * Tag guards (src/sites/tag-guards.ts): a release under a test of a flag stored beside the page
 * sees only the pages stored with a flag of that truth, and nothing is narrowed where a store of
 * the flag or the page is not seen.
 */
import { describe, expect, it } from 'vitest';
import { analyzeText } from '../src/run.ts';
import { read } from './helpers.ts';

/** Per group: its acquire line and the lines of its releases; then the orphan releases' lines. */
function groups(text: string) {
  const a = analyzeText(text);
  const line = (n: { startPosition: { row: number } }) => n.startPosition.row + 1;
  return {
    groups: a.groups.map((g) => [g.line, g.releases.map((r) => line(r.call))]),
    orphans: a.orphans.map((o) => line(o.release.call)),
  };
}

const FRAGS = `struct frag { struct page *page; int put_page; };
static struct frag frags[4];
static int fill(unsigned long a)
{
	struct page *p;

	if (get_user_pages_fast(a, 1, 0, &p) != 1)
		return -EFAULT;
	frags[0].page = p;
	frags[0].put_page = 1;
	frags[1].page = alloc_page(GFP_KERNEL);
	frags[1].put_page = 0;
	return 0;
}

void drop(int i)
{
	if (frags[i].put_page)
		put_page(frags[i].page);
	else
		__free_page(frags[i].page);
}
`;

describe('tag guards', () => {
  it('give each branch the pages stored with its truth: the put is the group\'s, the free is not', () => {
    expect(groups(FRAGS)).toEqual({ groups: [[7, [19]]], orphans: [21] });
  });

  it('follow the flag and the page through the static helpers that store them (qib-style)', () => {
    const text = read('tag-guard-frags', 'before.c');
    const at = (needle: string) => text.slice(0, text.indexOf(needle)).split('\n').length;
    expect(groups(text).groups).toEqual([[at('get_user_pages_fast('), [at('\t\tput_page(page);'), at('put_page(pkt->frag[i].page);')]]]);
  });

  it('narrow nothing when a store is not seen: a page and flag set by a compound literal', () => {
    const literal = FRAGS.replace('\tfrags[1].page = alloc_page(GFP_KERNEL);\n\tfrags[1].put_page = 0;\n', '\tfrags[1] = (struct frag){ .page = alloc_page(GFP_KERNEL), .put_page = 1 };\n');
    const a = analyzeText(literal);
    expect(a.groups.map((g) => g.hazards.map((h) => h.code))).toEqual([['mixed-provenance', 'mixed-provenance']]);
  });

  it('take no NULL test of the page itself for a tag', () => {
    const text = `struct dev { struct page *db; };
int open(struct dev *d, unsigned long a)
{
	return get_user_pages_fast(a, 1, FOLL_WRITE, &d->db) == 1 ? 0 : -EFAULT;
}

void close(struct dev *d)
{
	if (d->db)
		put_page(d->db);
	d->db = NULL;
}
`;
    expect(groups(text).groups).toEqual([[4, [10]]]);
  });

  it('read a switch on a type field, cases that fall through included', () => {
    const text = `enum kind { K_USER, K_PINNED, K_OWN };
struct buf { enum kind kind; struct page *page; };
static struct buf bufs[4];
int get_user(int i, unsigned long a)
{
	struct page *p;

	if (get_user_pages_fast(a, 1, 0, &p) != 1)
		return -EFAULT;
	bufs[i].page = p;
	bufs[i].kind = K_USER;
	return 0;
}

void get_own(int i)
{
	bufs[i].page = alloc_page(GFP_KERNEL);
	bufs[i].kind = K_OWN;
}

void put(int i)
{
	switch (bufs[i].kind) {
	case K_USER:
	case K_PINNED:
		put_page(bufs[i].page);
		break;
	case K_OWN:
		__free_page(bufs[i].page);
		break;
	}
}
`;
    expect(groups(text)).toEqual({ groups: [[8, [26]]], orphans: [29] });
    // The put reached from K_OWN by falling through sees both kinds: the group is mixed.
    const fallthrough = text.replace('\tcase K_USER:\n', '\tcase K_OWN:\n\t\t__free_page(bufs[i].page);\n\tcase K_USER:\n').replace('\tcase K_OWN:\n\t\t__free_page(bufs[i].page);\n\t\tbreak;\n', '');
    expect(groups(fallthrough)).toEqual({ groups: [[8, [28]]], orphans: [25] });
    expect(analyzeText(fallthrough).groups[0].hazards.map((h) => [h.code, h.line])).toEqual([['mixed-provenance', 28]]);
  });
});

