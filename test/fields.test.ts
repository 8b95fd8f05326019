/**
 * Struct fields are storage of their struct type (src/sites/dataflow.ts): two structs' fields of
 * one name are two stores, whether the file names the struct or a typedef of it, and a holder of
 * unknown type may be either.
 */
import { describe, expect, it } from 'vitest';
import { analyzeText } from '../src/run.ts';

const line = (n: { startPosition: { row: number } }) => n.startPosition.row + 1;

/** Each group's acquire line and release lines, and the orphan releases' lines. */
function groups(text: string) {
  const a = analyzeText(text);
  return { groups: a.groups.map((g) => [g.line, g.releases.map((r) => line(r.call))]), orphans: a.orphans.map((o) => line(o.release.call)) };
}

const TWO = (user: string, own: string, holder = 'own') => `${user}
${own}
int user_get(user_hold *u, unsigned long a)
{
	return get_user_pages_fast(a, 1, 0, u->pages) == 1 ? 0 : -EFAULT;
}

void user_put(user_hold *u)
{
	put_page(u->pages[0]);
}

void own_get(own_hold *o)
{
	o->pages[0] = alloc_page(GFP_KERNEL);
}

void own_put(${holder}_hold *o)
{
	__free_page(o->pages[0]);
}
`;

describe('fields by struct type', () => {
  it('keep typedef-named structs apart: the put is the group\'s, the free is not', () => {
    const text = TWO('typedef struct user_hold { struct page *pages[1]; } user_hold;', 'typedef struct { struct page *pages[1]; } own_hold;');
    expect(groups(text)).toEqual({ groups: [[5, [10]]], orphans: [20] });
  });
  it('join them through a holder whose type the file does not say', () => {
    const text = TWO('typedef struct user_hold { struct page *pages[1]; } user_hold;', 'typedef struct { struct page *pages[1]; } own_hold;', 'other');
    expect(analyzeText(text).groups[0].hazards.map((h) => h.code)).toEqual(['mixed-provenance']);
  });
});
