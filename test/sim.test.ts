/** The simulator's session rules, on small drivers written for the purpose. */
import { describe, expect, it } from 'vitest';
import { parseC } from '../src/parse/kernel-c.ts';
import { Oracle } from '../src/sim/interp.ts';
import { lowerFile } from '../src/sim/lower.ts';
import { runSession } from '../src/sim/outcome.ts';
import { configFor, type Scenario } from '../src/sim/scenarios.ts';
import { processText } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';

const DRIVER = `
struct xr { struct page **pages; int npages; };

int xr_register(struct xr *r, unsigned long uaddr)
{
	int ret;

	r->pages = kcalloc(1, sizeof(*r->pages), GFP_KERNEL);
	if (!r->pages)
		return -ENOMEM;
	ret = get_user_pages_fast(uaddr, 1, FOLL_WRITE, r->pages);
	if (ret != 1)
		return -EFAULT;
	ret = xr_hw_start(r);
	if (ret) {
		put_page(r->pages[0]);
		return ret;
	}
	r->npages = 1;
	return 0;
}

void xr_unregister(struct xr *r)
{
	put_page(r->pages[0]);
}
`;

const scenario = (flips: string[]): Scenario => ({
  label: '', n: 1, mode: 'full', folioOrder: 0, mapping: 'anon', writeback: false, zeroPage: false, flips, bindings: new Map(),
});

function run(flips: string[]) {
  const api = apiFor(parseVersion('6.5'));
  const s = scenario(flips);
  return runSession(lowerFile(parseC(DRIVER).rootNode), ['xr_register', 'xr_unregister'], configFor(s, api, new Oracle(new Set(flips))));
}

describe('sessions', () => {
  it('tear down what the first entry point set up', () => {
    const o = run([]);
    expect(o.returns).toEqual(['xr_register() = 0', 'xr_unregister() = 0']);
    expect(o.errors).toEqual([]);
    expect(o.folios.map((f) => f.held)).toEqual([0]);
  });

  it('stop when the first entry point returns an opaque error code it decided was non-zero', () => {
    // xr_hw_start() failed: xr_register() released the page and returned that code. Running
    // xr_unregister() now would release the page a second time, which no caller does.
    const o = run(['xr_hw_start()#1']);
    expect(o.returns).toEqual(['xr_register() = xr_hw_start()#1']);
    expect(o.log).toContain('xr_register() failed: nothing to tear down');
    expect(o.errors).toEqual([]);
    expect(o.folios.map((f) => f.held)).toEqual([0]);
  });
});

describe('proof required (gup2pin series)', () => {
  // The release loop itself is modelled; the list walk beside it is not.
  const UNMODELLED = `static int demo(unsigned long uaddr, int n, struct llist_node *list)
{
	struct page *pages[8];
	struct thing *t, *next;
	int i, got;

	got = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);
	if (got <= 0)
		return got;
	llist_for_each_entry_safe(t, next, list, node) {
		t->count++;
	}
	for (i = 0; i < got; ++i)
		put_page(pages[i]);
	return 0;
}
`;
  const plan = (requireProof: boolean) => processText(UNMODELLED, apiFor(parseVersion('6.5')), { core: false }, { verify: true, requireProof });

  it('converts a group the simulator cannot model, saying it is unverified', () => {
    const { plan: p, verification } = plan(false);
    expect(p.groups.map((g) => g.verdict)).toEqual(['converted']);
    expect(verification.get(p.groups[0].group.id)?.reason).toBe('the simulator does not model iterator macro llist_for_each_entry_safe()');
  });

  it('refuses it when only proven conversions are wanted', () => {
    const { plan: p } = plan(true);
    expect(p.output).toBe(UNMODELLED);
    expect(p.groups.map((g) => [g.verdict, g.diagnostics])).toEqual([
      ['refused', [{ code: 'unverified', line: 7, message: 'not proven equivalent: the simulator does not model iterator macro llist_for_each_entry_safe()' }]],
    ]);
  });
});
