/**
 * Coverage (src/sim/coverage.ts): an `equivalent` verdict holds only for code its scenarios ran.
 * Every edited statement must run on its side, and the code after a short pin, 0 pages and an
 * -errno must run to its end; otherwise the group is `unverifiable`, code `not-reached`.
 */
import { describe, expect, it } from 'vitest';
import { parseC } from '../src/parse/kernel-c.ts';
import { coverageLine, editedHunks, statementsOn } from '../src/sim/coverage.ts';
import { lowerFile } from '../src/sim/lower.ts';
import { verifyTexts } from '../src/sim/verify.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { TARGETS, fixtureNames, read } from './helpers.ts';

const API_6_5 = apiFor(parseVersion('6.5'));

describe('edited statements', () => {
  const TEXT = `static void drop(struct page **pages, int n, bool dirty)
{
	int i;

	for (i = 0; i < n; i++) {
		/* the device may have written */
		if (dirty) set_page_dirty_lock(pages[i]);
		put_page(
			pages[i]);
	}
}
`;
  const funcs = lowerFile(parseC(TEXT).rootNode);
  const on = (lines: number[]) => statementsOn(funcs, lines, TEXT, 'before').map((s) => `${s.line} ${s.stmt.t}`);

  it('are every statement starting on an edited line: an if and the call it guards are two', () => {
    expect(on([7])).toEqual(['7 if', '7 expr']);
  });

  it('are the innermost statement around a line inside one, and none for a comment or a brace', () => {
    expect(on([9])).toEqual(['8 expr']);
    expect(on([6, 10])).toEqual([]);
    expect(on([5])).toEqual(['5 for']);
  });

  it('are found from the edits on the lines a line diff finds', () => {
    const release = TEXT.indexOf('put_page(\n\t\t\tpages[i]);');
    const edits = [{ start: release, end: release + 'put_page'.length, text: 'unpin_user_page' }];
    const after = TEXT.replace('put_page(', 'unpin_user_page(');
    const expected = [{ before: [8, 8], after: [8, 8], anchor: 8 }];
    expect(editedHunks(TEXT, after, edits)).toEqual(expected);
    expect(editedHunks(TEXT, after)).toEqual(expected);
  });
});

/** A release behind a flag its only caller passes as false: no run of the file reaches it. */
const UNREACHED = `struct demo {
	struct page *pages[4];
	int npages;
};

static void demo_release(struct demo *d, bool final)
{
	int i;

	if (!final)
		return;
	for (i = 0; i < d->npages; i++)
		put_page(d->pages[i]);
}

int demo_map(struct demo *d, unsigned long uaddr)
{
	d->npages = get_user_pages_fast(uaddr, 4, FOLL_WRITE, d->pages);
	if (d->npages < 0)
		return d->npages;
	demo_release(d, false);
	return 0;
}
`;

describe('a release no scenario runs', () => {
  const after = UNREACHED.replace('get_user_pages_fast', 'pin_user_pages_fast').replace('put_page(', 'unpin_user_page(');

  it('is not-reached, naming the statement and what did run', () => {
    const [g] = verifyTexts(UNREACHED, after, API_6_5);
    expect(g).toMatchObject({ verdict: 'unverifiable', code: 'not-reached' });
    expect(g.reason).toBe(
      'not-reached: before line 13 `put_page(d->pages[i]);`: demo_release() ran in 8 scenarios, this statement in none; ' +
        'after line 13 `unpin_user_page(d->pages[i]);`: demo_release() ran in 8 scenarios, this statement in none',
    );
    expect(coverageLine(g.coverage!)).toBe('coverage: 2/4 edited statements ran (before 1/2, after 1/2); run on past a short pin 2, a return of 0 (impossible), -errno 1');
  });

  it('is equivalent once a scenario runs it', () => {
    const reached = (t: string) => t.replace('demo_release(d, false);', 'demo_release(d, true);');
    const [g] = verifyTexts(reached(UNREACHED), reached(after), API_6_5);
    expect(g.verdict).toBe('equivalent');
    expect(g.coverage!.statements.every((s) => s.runs > 0)).toBe(true);
  });
});

describe('every fixture conversion is proven on code its scenarios ran', () => {
  describe.each(fixtureNames())('%s', (name) => {
    it.each(TARGETS)('after.%s.c: every edited statement ran, and every possible GUP outcome', (target) => {
      const gs = verifyTexts(read(name, 'before.c'), read(name, `after.${target}.c`), apiFor(parseVersion(target)));
      for (const g of gs) {
        const c = g.coverage;
        expect(c, `#${g.group}@${g.line} ${g.verdict} ${g.reason ?? ''}`).toBeDefined();
        // A group that changed has edited statements on at least one side.
        expect(c!.statements.length, `#${g.group}@${g.line}`).toBeGreaterThan(0);
        expect(c!.statements.filter((s) => s.runs === 0), `#${g.group}@${g.line}: ${coverageLine(c!)}`).toEqual([]);
        expect(c!.outcomes.filter((o) => o.runs === 0 && !o.impossible), `#${g.group}@${g.line}: ${coverageLine(c!)}`).toEqual([]);
      }
    });
  });
});
