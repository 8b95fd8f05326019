/** The simulator's session rules, on small drivers written for the purpose. */
import { describe, expect, it } from 'vitest';
import { parseC } from '../src/parse/kernel-c.ts';
import type { Relation } from '../src/sim/facts.ts';
import { Oracle } from '../src/sim/interp.ts';
import { lowerFile } from '../src/sim/lower.ts';
import { compare, runSession } from '../src/sim/outcome.ts';
import { verdictLines } from '../src/emit/verdicts.ts';
import { BeforeRuns, configFor, type Scenario } from '../src/sim/scenarios.ts';
import { loweredEdits } from '../src/sim/edited.ts';
import { verifyTexts } from '../src/sim/verify.ts';
import { hasRealError } from '../src/sites/groups.ts';
import { applyEdits, planFile } from '../src/plan/plan.ts';
import { analyzeText, processText } from '../src/run.ts';
import { fixtureNames, read, TARGETS } from './helpers.ts';
import { programShape, spanShape } from './invariants.ts';
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

describe('before runs of a session', () => {
  const funcs = () => lowerFile(parseC(DRIVER).rootNode);
  const steps = ['xr_register', 'xr_unregister'];
  const api = apiFor(parseVersion('6.5'));

  it('are made once per world and set of flips, whatever their order', () => {
    const runs = new BeforeRuns(funcs(), steps, api);
    const a = runs.get(scenario(['kcalloc()#1 fails', 'xr_hw_start()#1']));
    expect(runs.get(scenario(['xr_hw_start()#1', 'kcalloc()#1 fails']))).toBe(a);
    expect(runs.get({ ...scenario(['kcalloc()#1 fails', 'xr_hw_start()#1']), n: 3 })).not.toBe(a);
  });

  it('give a scenario the run of one without the flips that run never asked', () => {
    const runs = new BeforeRuns(funcs(), steps, api);
    // kcalloc() failed: xr_register() returns before it asks whether xr_hw_start() failed.
    const failed = runs.get(scenario(['kcalloc()#1 fails']));
    expect(failed.decisionOrder).not.toContain('xr_hw_start()#1');
    expect(runs.get(scenario(['kcalloc()#1 fails', 'xr_hw_start()#1']))).toBe(failed);
    // The happy path asks it, so flipping it there is a run of its own, with its own outcome.
    const happy = runs.get(scenario([]));
    const hwFailed = runs.get(scenario(['xr_hw_start()#1']));
    expect(hwFailed).not.toBe(happy);
    expect(hwFailed.returns).toEqual(['xr_register() = xr_hw_start()#1']);
  });

  // A retry loop on an opaque call: each sp_done() is a decision of its own, false unless
  // flipped, so the loop spins to the step limit, pinning a page on every pass.
  const SPIN = `
struct sp { struct page *page; };

int sp_get(struct sp *s, unsigned long uaddr)
{
	for (;;) {
		sp_poll(s);
		if (get_user_pages_fast(uaddr, 1, FOLL_WRITE, &s->page) != 1)
			return -EFAULT;
		if (sp_done(s))
			break;
	}
	return 0;
}
`;
  const spin = (text: string) => runSession(lowerFile(parseC(text).rootNode), ['sp_get'], configFor(scenario([]), api, new Oracle()));

  it('keep one that spun to the step limit without its memory and calls, and it compares as the whole run', () => {
    const whole = spin(SPIN);
    expect(whole.fault).toMatch(/step limit/);
    expect(whole.events.length).toBeGreaterThan(100);
    expect(whole.heap.length).toBeGreaterThan(0);
    const kept = new BeforeRuns(lowerFile(parseC(SPIN).rootNode), ['sp_get'], api).get(scenario([]));
    expect(kept.fault).toBe(whole.fault);
    expect([kept.heap, kept.events]).toEqual([[], []]);
    // Against an after run that spins alike, one that leaves the loop, and one that faults in it.
    const afters = [spin(SPIN), spin(SPIN.replace('sp_done(s)', '1')), spin(SPIN.replace('sp_poll(s);', '*(int *)0 = 1;'))];
    expect(afters.map((a) => a.fault ?? 'none')).toEqual([whole.fault, 'none', 'NULL dereference (dereference)']);
    for (const after of afters) expect(compare(kept, after)).toEqual(compare(whole, after));
  });
});

describe('proof required (every command that writes a conversion)', () => {
  // The release loop itself is modelled; the list walk beside it is not.
  const UNMODELLED = `static int demo(unsigned long uaddr, int n, struct xarray *things)
{
	struct page *pages[8];
	struct thing *t;
	unsigned long index;
	int i, got;

	got = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);
	if (got <= 0)
		return got;
	xa_for_each(things, index, t) {
		t->count++;
	}
	for (i = 0; i < got; ++i)
		put_page(pages[i]);
	return 0;
}
`;
  const plan = (verify: boolean) => processText(UNMODELLED, apiFor(parseVersion('6.5')), { core: false }, { verify });

  it('refuses a group the simulator cannot model, naming the code', () => {
    const { plan: p, verification } = plan(true);
    expect(p.output).toBe(UNMODELLED);
    expect(verification.get(p.groups[0].group.id)).toMatchObject({ verdict: 'unverifiable', code: 'unmodelled', reason: 'unmodelled: the simulator does not model iterator macro xa_for_each()' });
    expect(p.groups.map((g) => [g.verdict, g.diagnostics])).toEqual([
      ['refused', [{ code: 'unverified', line: 8, message: 'not proven equivalent: unmodelled: the simulator does not model iterator macro xa_for_each()' }]],
    ]);
  });

  it('converts it unproven with --no-verify', () => {
    const { plan: p, verification } = plan(false);
    expect(p.groups.map((g) => g.verdict)).toEqual(['converted']);
    expect(verification.size).toBe(0);
  });
});

const API_6_5 = apiFor(parseVersion('6.5'));

describe('discovery', () => {
  // The acquire is four opaque decisions deep, as in ublk: work pending, its bio, data in it, the loop.
  const DEEP = `struct req { struct bio *bio; unsigned long uaddr; int npages; };

static int deep_copy(struct req *rq)
{
	struct page *pages[4];
	int i, got, done = 0;

	while (done < rq->npages) {
		got = get_user_pages_fast(rq->uaddr, 1, FOLL_WRITE, pages);
		if (got <= 0)
			return got;
		for (i = 0; i < got; i++)
			put_page(pages[i]);
		done += got;
	}
	return done;
}

int deep_work(struct deep_queue *q)
{
	struct req *rq;

	if (deep_pending(q)) {
		rq = deep_next(q);
		if (rq->bio && bio_has_data(rq->bio))
			return deep_copy(rq);
	}
	return 0;
}
`;

  it('finds an acquire four decisions deep, so the conversion is proven', () => {
    const { plan, verification } = processText(DEEP, API_6_5, { core: false }, { verify: true });
    expect(plan.groups.map((g) => g.verdict)).toEqual(['converted']);
    expect(verification.get(plan.groups[0].group.id)?.verdict).toBe('equivalent');
  });
});

describe('lock-less lists', () => {
  // ublk's shape: the work queued on an llist is taken whole and walked; each entry pins.
  const QUEUED = `struct xfer {
	struct llist_node node;
	unsigned long uaddr;
	int npages;
};

static int xfer_one(struct xfer *x)
{
	struct page *pages[4];
	int i, got;

	got = get_user_pages_fast(x->uaddr, x->npages, FOLL_WRITE, pages);
	if (got <= 0)
		return got;
	for (i = 0; i < got; i++) {
		set_page_dirty_lock(pages[i]);
		put_page(pages[i]);
	}
	return 0;
}

void xfer_run(struct llist_head *queue)
{
	struct llist_node *list = llist_del_all(queue);
	struct xfer *x, *next;

	llist_for_each_entry_safe(x, next, list, node)
		xfer_one(x);
}
`;

  it('walks an llist_del_all() list of one entry when the scenario has one, so the acquire is reached and proven', () => {
    const { plan, verification } = processText(QUEUED, API_6_5, { core: false }, { verify: true });
    expect(plan.groups.map((g) => g.verdict)).toEqual(['converted']);
    const v = verification.get(plan.groups[0].group.id)!;
    expect([v.verdict, v.differences]).toEqual(['intended', ['already-dirty-skipped']]);
    expect(v.scenarios).toBeGreaterThan(10);
  });
});

/** `before` with each `[from, to]` replaced, checked: a test's conversion must really happen. */
function rewrite(before: string, ...edits: Array<[string, string]>): string {
  let text = before;
  for (const [from, to] of edits) {
    expect(text).toContain(from);
    text = text.replace(from, to);
  }
  return text;
}

/** `verdict/reason: detail` of each group, and the scenario of the divergence if any. */
function verdicts(before: string, after: string) {
  return verifyTexts(before, after, API_6_5).map((g) => ({
    verdict: g.divergence ? `${g.verdict}/${g.divergence.reason}: ${g.divergence.detail}` : g.verdict,
    scenario: g.divergence?.scenario.replace(/:.*/, ''),
  }));
}

describe('answers about one opaque integer are consistent', () => {
  it('settles a comparison that earlier answers decide, and only those', () => {
    const o = new Oracle();
    const n = (op: Relation, k: number) => ({ subject: 'n', op, k });
    // Asked under `!`, the default answer is true: n >= 1. Then n <= 1.
    expect(o.decide('(0<n)', true, n('>', 0))).toBe(true);
    expect(o.decide('(1<n)', false, n('>', 1))).toBe(false);
    expect(o.decide('(0<=n)', false, n('>=', 0))).toBe(true);
    expect(o.decide('(n==1)', false, n('==', 1))).toBe(true);
    expect(o.decide('(2<=n)', true, n('>=', 2))).toBe(false);
    // Settled answers are no decisions: no scenario flips them.
    expect(o.order).toEqual(['(0<n)', '(1<n)']);
    // Another value, or one compared with something else than a number, is a decision as before.
    expect(o.decide('(0<m)', false, { subject: 'm', op: '>', k: 0 })).toBe(false);
    expect(o.decide('(n<m)', false)).toBe(false);
    expect(o.order).toEqual(['(0<n)', '(1<n)', '(0<m)', '(n<m)']);
    // An excluded value at the end of the range narrows it: p >= 0 and p != 0 make p > 0.
    const p = (op: Relation, k: number) => ({ subject: 'p', op, k });
    expect(o.decide('(p>=0)', true, p('>=', 0))).toBe(true);
    expect(o.decide('(p!=0)', true, p('!=', 0))).toBe(true);
    expect(o.decide('(0<p)', false, p('>', 0))).toBe(true);
  });

  // The teardown loop's bound is a field nobody in the session sets: the scenario that flips
  // `0 < q->npages` (then leaves `1 < q->npages` false) is the world with exactly one entry.
  const QUEUE = `
struct xq { struct page **pages; int npages; };

int xq_get(struct xq *q, unsigned long uaddr, int npages)
{
	int got = get_user_pages_fast(uaddr, npages, FOLL_WRITE, q->pages);

	if (got != npages)
		return -EFAULT;
	return 0;
}

void xq_put(struct xq *q)
{
	int i;

	for (i = 0; i < q->npages; i++)
		put_page(q->pages[i]);
}
`;
  const convert = (loop: string) =>
    rewrite(QUEUE, ['get_user_pages_fast(', 'pin_user_pages_fast('], ['for (i = 0; i < q->npages; i++)\n\t\tput_page(', `${loop}\n\t\tunpin_user_page(`]);

  it('so a correct conversion that words the loop bound differently is equivalent', () => {
    // Without it, the after run's `q->npages > 0` is a question of its own, answered false.
    expect(verdicts(QUEUE, convert('for (i = 0; q->npages > i; i++)'))).toEqual([{ verdict: 'equivalent', scenario: undefined }]);
  });

  it('and an off-by-one bound releases the entry one past the count', () => {
    expect(verdicts(QUEUE, convert('for (i = 0; i <= q->npages; i++)'))).toEqual([
      {
        verdict: 'not-equivalent/over-release: P1: after releases 1 more time than before',
        scenario: 'xq_get() then xq_put()',
      },
    ]);
  });
});

describe('constructors', () => {
  // xs_new() is how the driver's users get the `struct xs *` that xs_pin() fills: zeroed.
  const SLOTS = `
struct xs { struct page *slot[4]; };

struct xs *xs_new(void)
{
	return kzalloc(sizeof(struct xs), GFP_KERNEL);
}

int xs_pin(struct xs *s, unsigned long uaddr)
{
	int got = get_user_pages_fast(uaddr, 1, FOLL_WRITE, &s->slot[0]);

	return got == 1 ? 0 : -EFAULT;
}

void xs_free(struct xs *s)
{
	int i;

	for (i = 0; i < 4; i++)
		if (s->slot[i])
			put_page(s->slot[i]);
	kfree(s);
}
`;
  const pin = (text: string) => rewrite(text, ['get_user_pages_fast(', 'pin_user_pages_fast(']);

  it('run first, so the session tears down the object as the driver built it', () => {
    const correct = pin(rewrite(SLOTS, ['\t\t\tput_page(', '\t\t\tunpin_user_page(']));
    expect(verdicts(SLOTS, correct)).toEqual([{ verdict: 'equivalent', scenario: undefined }]);
    // The empty slots are NULL, not values of unknown origin: dropping the NULL test unpins NULL.
    const unchecked = pin(rewrite(SLOTS, ['\t\tif (s->slot[i])\n\t\t\tput_page(', '\t\tunpin_user_page(']));
    expect(verdicts(SLOTS, unchecked)).toEqual([
      {
        verdict: 'not-equivalent/unpin-not-pinned: unpin_user_page() on a NULL entry: nothing was pinned there',
        scenario: 'xs_new() then xs_pin() then xs_free()',
      },
    ]);
  });
});

describe('array bounds', () => {
  const ARRAY = `
struct xa { struct page **pages; int npages; };

int xa_pin(struct xa *a, unsigned long uaddr)
{
	a->pages = kcalloc(2, sizeof(struct page *), GFP_KERNEL);
	if (!a->pages)
		return -ENOMEM;
	if (get_user_pages_fast(uaddr, 2, FOLL_WRITE, a->pages) != 2)
		return -EFAULT;
	a->npages = 2;
	return 0;
}

void xa_unpin(struct xa *a)
{
	int i;

	for (i = 0; i < a->npages; i++)
		put_page(a->pages[i]);
	kfree(a->pages);
}
`;

  it('an index past the count an array was allocated for faults', () => {
    const after = rewrite(ARRAY, ['get_user_pages_fast(', 'pin_user_pages_fast('], ['for (i = 0; i < a->npages; i++)\n\t\tput_page(', 'for (i = 0; i <= a->npages; i++)\n\t\tunpin_user_page(']);
    expect(verdicts(ARRAY, after)).toEqual([
      { verdict: 'not-equivalent/fault: after: read past the end of kcalloc#2[] (index 2, length 2)', scenario: 'xa_pin() then xa_unpin()' },
    ]);
  });

  // A table sized by its constructor for `n` entries, `n` a parameter: its length is opaque, and
  // only the run's answers about `n` can prove an index past it.
  const TABLE = `
struct xt_ent { struct page *pg; };
struct xt { int n; struct xt_ent ent[]; };

struct xt *xt_alloc(int n)
{
	struct xt *t = kzalloc(struct_size(t, ent, n), GFP_KERNEL);

	if (!t)
		return ERR_PTR(-ENOMEM);
	t->n = n;
	return t;
}

int xt_map(struct xt *t, int idx, unsigned long uaddr)
{
	if (idx < 0 || idx >= t->n)
		return -EINVAL;
	return get_user_pages_fast(uaddr, 1, FOLL_WRITE, &t->ent[idx].pg) == 1 ? 0 : -EFAULT;
}

void xt_free(struct xt *t)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (t->ent[i].pg)
			put_page(t->ent[i].pg);
	kfree(t);
}
`;
  const convert = (loop: string) => rewrite(TABLE, ['get_user_pages_fast(', 'pin_user_pages_fast('], ['put_page(', 'unpin_user_page('], ['for (i = 0; i < t->n; i++)', loop]);

  it('a flexible array member sized by struct_size() is as long as its count, once answers bound it', () => {
    expect(verdicts(TABLE, convert('for (i = 0; i < t->n; i++)'))).toEqual([{ verdict: 'equivalent', scenario: undefined }]);
    // `0 < n` true and `1 < n` false: n is 1, `1 <= n` is true, and ent[1] is one past the end.
    expect(verdicts(TABLE, convert('for (i = 0; i <= t->n; i++)'))).toEqual([
      {
        verdict: 'not-equivalent/fault: after: read past the end of kzalloc#1.ent[] (index 1, length param:n = 1)',
        scenario: 'xt_alloc() then xt_map() then xt_free()',
      },
    ]);
  });
});

describe('lowering a conversion from its edits', () => {
  const shape = programShape;

  /** Every fixture's conversion at every target that changes something. */
  function* conversions() {
    for (const name of fixtureNames())
      for (const target of TARGETS) {
        const before = read(name, 'before.c');
        const analysis = analyzeText(before);
        const api = apiFor(parseVersion(target));
        const plan = planFile(analysis, api);
        if (plan.output !== before) yield { what: `${name} at ${target}`, before, analysis, api, plan };
      }
  }

  it('gives every fixture conversion the program a parse of the whole converted text gives', () => {
    let spliced = 0;
    for (const { what, analysis, plan } of conversions()) {
      const edited = loweredEdits(analysis, plan.edits);
      // A renamed local function (H14) changes a definition's name: verify parses the whole text.
      if (plan.groups.some((g) => g.renamed)) {
        expect(edited, what).toBeUndefined();
        continue;
      }
      expect(edited, what).toBeDefined();
      const whole = lowerFile(parseC(plan.output).rootNode);
      expect(shape(edited!.funcs), what).toBe(shape(whole));
      // The edited functions' statements sit on the converted text's lines, as coverage counts them.
      const original = lowerFile(analysis.tree.rootNode);
      for (const [name, f] of edited!.funcs)
        if (f.text !== original.get(name)?.text) expect(spanShape(f), `${what}: ${name}()`).toBe(spanShape(whole.get(name)!));
      // No call still runs an old version of a function that changed.
      for (const f of edited!.funcs.values())
        JSON.stringify(f.body, (key, value) => {
          if (key === 'callee' && value) expect(value).toBe(edited!.funcs.get(value.name));
          return key === 'callee' ? undefined : value;
        });
      spliced++;
    }
    expect(spliced).toBeGreaterThan(50);
  });

  it('gives every fixture conversion the verdicts a whole parse gives, after runs it skips included', () => {
    // From edits, an after run whose before run entered no edited function is not made.
    let compared = 0;
    for (const { what, before, analysis, api, plan } of conversions()) {
      const fromEdits = verifyTexts({ text: before, analysis }, { text: plan.output, edits: plan.edits }, api);
      expect(fromEdits, what).toEqual(verifyTexts({ text: before, analysis }, plan.output, api));
      compared += fromEdits.length;
    }
    expect(compared).toBeGreaterThan(50);
  });

  it('gives what a whole parse gives for edits a swapped statement cannot carry', () => {
    const LOOP = `static void xr_release(struct sg_table *sgt, int dirty)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgt->sgl, sg, sgt->nents, i) {
		if (dirty)
			set_page_dirty_lock(sg_page(sg));
		put_page(sg_page(sg));
	}
	sg_free_table(sgt);
	dirty = ({ int left = xr_pending(sgt); left; });
	switch (dirty) {
	case 2:
		kvfree(sgt);
		break;
	default:
		break;
	}
}
`;
    const analysis = analyzeText(LOOP);
    const at = (s: string) => LOOP.indexOf(s);
    const cases: Array<[string, Array<{ start: number; end: number; text: string }>]> = [
      ['one statement in a loop body', [{ start: at('put_page'), end: at('put_page') + 8, text: 'unpin_user_page' }]],
      ['an iterator macro header', [{ start: at('sgt->nents'), end: at('sgt->nents') + 10, text: 'sgt->orig_nents' }]],
      ['a statement deleted', [{ start: at('sg_free_table'), end: at('sg_free_table') + 19, text: '' }]],
      ['a statement made two', [{ start: at('sg_free_table'), end: at('sg_free_table') + 19, text: 'sg_free_table(sgt);\n\tkfree(sgt);' }]],
      ['the signature', [{ start: at('int dirty'), end: at('int dirty') + 9, text: 'bool dirty' }]],
      ['a case arm of a switch', [{ start: at('kvfree(sgt)'), end: at('kvfree(sgt)') + 6, text: 'kfree' }]],
      ['a statement inside an expression', [{ start: at('xr_pending'), end: at('xr_pending') + 10, text: 'xr_left' }]],
      ['two edits, one statement inside the other', [
        { start: at('if (dirty)'), end: at('if (dirty)') + 10, text: 'if (dirty && sg_page(sg))' },
        { start: at('set_page_dirty_lock'), end: at('set_page_dirty_lock') + 19, text: 'set_page_dirty' },
      ]],
    ];
    for (const [what, edits] of cases) {
      const whole = lowerFile(parseC(applyEdits(LOOP, edits)).rootNode);
      expect(shape(loweredEdits(analysis, edits)!.funcs), what).toBe(shape(whole));
    }
  });

  it('falls back to a whole parse when the edited function holds another one', () => {
    // A macro tree-sitter cannot read turns the loop into a definition inside the function,
    // lowered as a function of its own as well.
    const NESTED = `static void xr_put(struct list_head *head)
{
	struct xr_chunk *c, *tmp;

	READ_ONCE(list_for_each_entry_safe)(c, tmp, head, list) {
		put_page(c->page);
	}
}
`;
    const analysis = analyzeText(NESTED);
    expect(analysis.tree.rootNode.descendantsOfType('function_definition')).toHaveLength(2);
    const at = NESTED.indexOf('put_page');
    expect(loweredEdits(analysis, [{ start: at, end: at + 8, text: 'unpin_user_page' }])).toBeUndefined();
  });

  it('splices an edited function whole in a file with a parse error elsewhere, and not one with its own', () => {
    const ODD = `static int xr_odd(struct xr_dev *xd)
{
	int n = xd->count +;

	return n;
}

static void xr_put(struct page **pages, int n)
{
	int i;

	for (i = 0; i < n; i++)
		put_page(pages[i]);
}
`;
    const analysis = analyzeText(ODD);
    const [odd, put] = analysis.tree.rootNode.descendantsOfType('function_definition');
    expect([hasRealError(odd), hasRealError(put)]).toEqual([true, false]);
    const edit = (what: string, text: string) => [{ start: ODD.indexOf(what), end: ODD.indexOf(what) + what.length, text }];
    const inPut = edit('put_page', 'unpin_user_page');
    const whole = lowerFile(parseC(applyEdits(ODD, inPut)).rootNode);
    expect(shape(loweredEdits(analysis, inPut)!.funcs)).toBe(shape(whole));
    expect(loweredEdits(analysis, edit('return n', 'return n + 1'))).toBeUndefined();
  });

  it('falls back to a whole parse when an edit is outside every function', () => {
    const analysis = analyzeText(DRIVER);
    expect(loweredEdits(analysis, [{ start: 1, end: 7, text: 'struct' }])).toBeUndefined();
  });
});

/**
 * Atomic context (H8) is judged against the original, per atomic section: a sleep the after run
 * makes under a lock is new only if the before run did not already sleep in that section.
 */
describe('sleeping in atomic context', () => {
  const RING = `
struct xa_ring { spinlock_t lock; struct page *page; bool dirty; };

int xa_map(struct xa_ring *r, unsigned long uaddr)
{
	if (get_user_pages_fast(uaddr, 1, FOLL_WRITE, &r->page) != 1)
		return -EFAULT;
	return 0;
}

void xa_unmap(struct xa_ring *r)
{
	spin_lock(&r->lock);
	if (r->dirty)
		DIRTY(r->page);
	put_page(r->page);
	spin_unlock(&r->lock);
}
`;
  const pinned = (before: string, release: string) =>
    rewrite(before, ['get_user_pages_fast(', 'pin_user_pages_fast('], [/\tif \(r->dirty\)\n\t\t\w+\(r->page\);\n\tput_page\(r->page\);/.exec(before)![0], release]);
  const dirtyLock = '\tunpin_user_pages_dirty_lock(&r->page, 1, r->dirty);';

  it('lets a dirtying unpin stand where the original already took the page lock', () => {
    const before = RING.replace('DIRTY', 'set_page_dirty_lock');
    // 'intended': the helper skips a page already dirty, which set_page_dirty_lock() dirtied again.
    expect(verdicts(before, pinned(before, dirtyLock))).toEqual([{ verdict: 'intended', scenario: undefined }]);
  });

  it('calls a dirtying unpin that adds the sleep under the lock not equivalent', () => {
    const before = RING.replace('DIRTY', 'SetPageDirty');
    expect(verdicts(before, pinned(before, dirtyLock))).toEqual([
      {
        verdict: 'not-equivalent/sleep-in-atomic: unpin_user_pages_dirty_lock() may sleep but runs in atomic context (atomic section 1)',
        scenario: 'xa_map() then xa_unmap()',
      },
    ]);
  });

  it('and one that moves the original sleep into the locked section', () => {
    // The page lock was taken before the spinlock: the same sleep, in a new place.
    const before = RING.replace('DIRTY', 'set_page_dirty_lock').replace(
      '\tspin_lock(&r->lock);\n\tif (r->dirty)\n\t\tset_page_dirty_lock(r->page);\n',
      '\tif (r->dirty)\n\t\tset_page_dirty_lock(r->page);\n\tspin_lock(&r->lock);\n',
    );
    const after = rewrite(before, ['get_user_pages_fast(', 'pin_user_pages_fast('], ['\tif (r->dirty)\n\t\tset_page_dirty_lock(r->page);\n', ''], ['\tput_page(r->page);', dirtyLock]);
    expect(verdicts(before, after)).toEqual([
      {
        verdict: 'not-equivalent/sleep-in-atomic: unpin_user_pages_dirty_lock() may sleep but runs in atomic context (atomic section 1)',
        scenario: 'xa_map() then xa_unmap()',
      },
    ]);
  });

  it('calls the bulk rewrite gup2pin refuses in neg-spinlock not equivalent', () => {
    // SetPageDirty() in a whole loop under pd->lock: the bulk dirtying unpin would add the sleep.
    const before = read('neg-spinlock', 'before.c');
    const loop = /\t\tfor \(i = 0; i < chunk->npages; i\+\+\) \{\n[^}]*\}\n/.exec(before)![0];
    const after = rewrite(before, ['get_user_pages(cur, batch, gup_flags, chunk->pages, NULL)', 'pin_user_pages(cur, batch, gup_flags, chunk->pages)'], [loop, '\t\tunpin_user_pages_dirty_lock(chunk->pages, chunk->npages, dirty);\n']);
    expect(verdicts(before, after)).toEqual([
      {
        verdict: 'not-equivalent/sleep-in-atomic: unpin_user_pages_dirty_lock() may sleep but runs in atomic context (atomic section 2)',
        scenario: 'ucx_reg_mr() then ucx_dereg_mr()',
      },
    ]);
  });

  it("and spinlock-setdirty's status page converted the vfio way, to the dirtying unpin", () => {
    const before = read('spinlock-setdirty', 'before.c');
    const after = rewrite(read('spinlock-setdirty', 'after.6.5.c'), ['\tif (ch->status_written)\n\t\tSetPageDirty(ch->status);\n\tunpin_user_page(ch->status);', '\tunpin_user_pages_dirty_lock(&ch->status, 1, ch->status_written);']);
    // Both groups' sessions run mbx_reset(), where the new sleep is.
    const diverged = { verdict: 'not-equivalent/sleep-in-atomic: unpin_user_pages_dirty_lock() may sleep but runs in atomic context (atomic section 1)', scenario: 'mbx_chan_start() then mbx_reset()' };
    expect(verdicts(before, after)).toEqual([diverged, diverged]);
  });

  it('keeps the non-sleeping form equivalent: SetPageDirty() stays, the put becomes an unpin', () => {
    const before = RING.replace('DIRTY', 'SetPageDirty');
    expect(verdicts(before, pinned(before, '\tif (r->dirty)\n\t\tSetPageDirty(r->page);\n\tunpin_user_page(r->page);'))).toEqual([
      { verdict: 'equivalent', scenario: undefined },
    ]);
  });
});

describe('releases at the edges follow mm/gup.c and mm/swap.c of the target', () => {
  /** One call in a function of its own, run on `version`: what it faults with and logs. */
  const edge = (call: string, version: string) => {
    const funcs = lowerFile(parseC(`int edge(void)\n{\n\t${call};\n\treturn 0;\n}\n`).rootNode);
    const o = runSession(funcs, ['edge'], configFor(scenario([]), apiFor(parseVersion(version)), new Oracle()));
    return { fault: o.fault, errors: o.errors, log: o.log.slice(1) };
  };
  const none = (log: string[]) => ({ fault: undefined, errors: [], log });
  const huge = (op: string, n: number) => {
    const fault = `${op}() with the negative count ${n}: a huge unsigned loop`;
    return { fault, errors: [], log: [`  !! ${fault}`] };
  };

  it('a release of 0 pages never reads the array, NULL or not', () => {
    expect(edge('release_pages(NULL, 0)', '6.1')).toEqual(none(['release_pages(0, 0)']));
    expect(edge('unpin_user_pages(NULL, 0)', '6.1')).toEqual(none(['unpin_user_pages(0, 0)']));
    expect(edge('unpin_user_pages_dirty_lock(NULL, 0, true)', '6.12')).toEqual(none(['unpin_user_pages_dirty_lock(0, 0, dirty)']));
    expect(edge('unpin_user_pages_dirty_lock(NULL, 0, false)', '5.6')).toEqual(none(['unpin_user_pages_dirty_lock(0, 0)']));
    expect(edge('unpin_user_page_range_dirty_lock(NULL, 0, true)', '6.1')).toEqual(none([]));
    expect(edge('put_user_pages(NULL, 0)', '5.3')).toEqual(none(['put_user_pages(0, 0)']));
    expect(edge('put_user_pages_dirty_lock(NULL, 0)', '5.3')).toEqual(none(['put_user_pages_dirty_lock(0, 0, dirty)']));
    expect(edge('put_user_pages_dirty_lock(NULL, 0, true)', '5.4')).toEqual(none(['put_user_pages_dirty_lock(0, 0, dirty)']));
  });

  it('but one page of a NULL array is a NULL dereference', () => {
    expect(edge('unpin_user_pages(NULL, 1)', '6.1')).toEqual({ fault: 'NULL dereference (unpin_user_pages)', errors: [], log: ['  !! NULL dereference (unpin_user_pages)'] });
    expect(edge('release_pages(NULL, 1)', '6.12')).toEqual({ fault: 'NULL dereference (release_pages)', errors: [], log: ['  !! NULL dereference (release_pages)'] });
  });

  it("release_pages()' `int nr` loops zero times when negative", () => {
    expect(edge('release_pages(NULL, -14)', '6.1')).toEqual(none(['release_pages(0, -14)']));
    expect(edge('release_pages(NULL, -14)', '5.3')).toEqual(none(['release_pages(0, -14)']));
  });

  it("unpin_user_pages() WARNs and returns on a -errno count (5.10 on: 6.1, 6.12), runs off the array before", () => {
    expect(edge('unpin_user_pages(NULL, -14)', '6.1')).toEqual(none(['unpin_user_pages(-14): WARN, nothing released']));
    expect(edge('unpin_user_pages(NULL, -14)', '6.12')).toEqual(none(['unpin_user_pages(-14): WARN, nothing released']));
    expect(edge('unpin_user_pages_dirty_lock(NULL, -14, false)', '6.1')).toEqual(none(['unpin_user_pages_dirty_lock(-14): WARN, nothing released']));
    expect(edge('unpin_user_pages(NULL, -14)', '5.6')).toEqual(huge('unpin_user_pages', -14));
    // IS_ERR_VALUE() is the top 4095 values only.
    expect(edge('unpin_user_pages(NULL, -5000)', '6.1')).toEqual(huge('unpin_user_pages', -5000));
  });

  it('the other `unsigned long npages` releases take a negative count as a huge loop bound', () => {
    // make_dirty skips the hand-over to unpin_user_pages() and its guard, in 6.1 and 6.12 alike.
    expect(edge('unpin_user_pages_dirty_lock(NULL, -14, true)', '6.1')).toEqual(huge('unpin_user_pages_dirty_lock', -14));
    expect(edge('unpin_user_pages_dirty_lock(NULL, -14, true)', '6.12')).toEqual(huge('unpin_user_pages_dirty_lock', -14));
    expect(edge('unpin_user_page_range_dirty_lock(NULL, -14, true)', '6.1')).toEqual(huge('unpin_user_page_range_dirty_lock', -14));
    expect(edge('put_user_pages(NULL, -14)', '5.3')).toEqual(huge('put_user_pages', -14));
    expect(edge('put_user_pages_dirty_lock(NULL, -14, false)', '5.4')).toEqual(huge('put_user_pages_dirty_lock', -14));
  });

  it('a page property of a NULL page oopses where the kernel reads the struct page', () => {
    expect(edge('PageHuge(NULL)', '6.5')).toEqual({ fault: 'NULL page passed to PageHuge()', errors: [], log: ['  !! NULL page passed to PageHuge()'] });
    expect(edge('page_size(NULL)', '6.5').fault).toBe('NULL page passed to page_size()');
  });

  it("so uncounted-pin-leak's `gup_rc < 0` (nitro_enclaves' test) verifies: a 0 result oopses in the page check on both sides", () => {
    const before = read('uncounted-pin-leak', 'before.c');
    expect(before).toContain('if (gup_rc < 0) {');
    for (const target of ['5.3', '5.4', '6.5']) {
      const v = verifyTexts(before, read('uncounted-pin-leak', `after.${target}.c`), apiFor(parseVersion(target)));
      expect(v.map((g) => [g.verdict, g.code, g.divergence])).toEqual([['equivalent', undefined, undefined]]);
    }
  });

  // privcmd's shape: the error path before the array is allocated releases (NULL, 0).
  const DM_OP = `
static void dm_unlock(struct page **pages, unsigned int n)
{
	put_user_pages_dirty_lock(pages, n, true);
}

long dm_op(unsigned long uaddr, unsigned int n)
{
	struct page **pages = NULL;
	unsigned int pinned = 0;
	long rc;

	if (dm_check(uaddr)) {
		rc = -EFAULT;
		goto out;
	}
	pages = kcalloc(n, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		rc = -ENOMEM;
		goto out;
	}
	rc = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);
	if (rc <= 0)
		goto out;
	pinned = rc;
	rc = dm_call(pages, pinned);
out:
	dm_unlock(pages, pinned);
	kfree(pages);
	return rc;
}
`;

  it('so an error path releasing (NULL, 0) on both sides converts equivalent', () => {
    const after = rewrite(DM_OP, ['get_user_pages_fast(', 'pin_user_pages_fast('], ['put_user_pages_dirty_lock(', 'unpin_user_pages_dirty_lock(']);
    expect(verdicts(DM_OP, after)).toEqual([{ verdict: 'equivalent', scenario: undefined }]);
  });
});

describe('both runs faulting at corresponding calls (model-fault)', () => {
  /** The run of one function body on 6.5. */
  const body = (text: string) => {
    const funcs = lowerFile(parseC(`int mf(void)\n{\n${text}\treturn 0;\n}\n`).rootNode);
    return runSession(funcs, ['mf'], configFor(scenario([]), API_6_5, new Oracle()));
  };
  const compared = (before: string, after: string) => {
    const c = compare(body(before), body(after));
    return { divergence: c.divergence, modelFault: c.modelFault };
  };

  it('are a call and its converted counterpart failing alike, after the same calls', () => {
    expect(compared('\tmf_prepare();\n\trelease_pages(NULL, 1);\n', '\tmf_prepare();\n\tunpin_user_pages(NULL, 1);\n')).toEqual({
      divergence: undefined,
      modelFault: 'before and after both fault at corresponding calls: before NULL dereference (release_pages), after NULL dereference (unpin_user_pages)',
    });
  });

  it('not faults of different kinds', () => {
    expect(compared('\trelease_pages(NULL, 1);\n', '\tunpin_user_pages(NULL, -5000);\n')).toEqual({
      divergence: { reason: 'fault', detail: 'after: unpin_user_pages() with the negative count -5000: a huge unsigned loop (before: NULL dereference (release_pages))' },
      modelFault: undefined,
    });
  });

  it('not faults after a different number of calls', () => {
    expect(compared('\trelease_pages(NULL, 1);\n', '\tmf_prepare();\n\tunpin_user_pages(NULL, 1);\n').divergence?.reason).toBe('fault');
  });

  it('not a release against a call that is none', () => {
    // The pin family is no counterpart of the older interim one in reverse, nor is kfree() of anything.
    expect(compared('\tunpin_user_pages(NULL, 1);\n', '\tput_user_pages(NULL, 1);\n').divergence?.reason).toBe('fault');
    expect(compared('\trelease_pages(NULL, 1);\n', '\tkfree(mf_obj);\n\tkfree(mf_obj);\n').divergence?.reason).toBe('fault');
  });

  it('not a fault in the simulated code against one in a kernel call', () => {
    // pages[0] of a NULL array is the loop's own dereference, not put_page()'s.
    expect(compared('\tstruct page **pages = NULL;\n\tput_page(pages[0]);\n', '\tstruct page **pages = NULL;\n\tunpin_user_pages(pages, 1);\n')).toEqual({
      divergence: { reason: 'fault', detail: 'after: NULL dereference (unpin_user_pages) (before: NULL dereference (index))' },
      modelFault: undefined,
    });
  });

  // An error path that counts pages it never pinned releases (NULL, n): a bug on both sides.
  const XB = `
int xb_map(unsigned long uaddr, int n)
{
	struct page **pages = NULL;
	int got = 0;

	if (xb_check(uaddr)) {
		got = n;
		goto out;
	}
	pages = kcalloc(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	got = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);
	if (got <= 0)
		return got ? got : -EFAULT;
	xb_go(pages, got);
out:
	RELEASE;
	kfree(pages);
	return 0;
}
`;
  const xb = (release: string) => XB.replace('RELEASE', release);
  const pinned = (release: string) => xb(release).replace('get_user_pages_fast(', 'pin_user_pages_fast(');
  const scenarioOf = 'xb_map(): 3 pages, get_user_pages_fast() gets every page, with `xb_check()#1` taken the other way';

  it('make the group unverifiable, with both traces, when nothing diverges', () => {
    const [v] = verifyTexts(xb('release_pages(pages, got)'), pinned('unpin_user_pages(pages, got)'), API_6_5);
    expect(v).toMatchObject({
      verdict: 'unverifiable',
      code: 'model-fault',
      reason: 'model-fault: before and after both fault at corresponding calls: before NULL dereference (release_pages), after NULL dereference (unpin_user_pages)',
      faults: { scenario: scenarioOf, before: ['xb_map():', '  !! NULL dereference (release_pages)'], after: ['xb_map():', '  !! NULL dereference (unpin_user_pages)'] },
    });
    expect(v.divergence).toBeUndefined();
    expect(verdictLines('xb.c', v)).toEqual([
      'xb.c:14: unverifiable: get_user_pages_fast() with 1 release: model-fault: before and after both fault at corresponding calls: before NULL dereference (release_pages), after NULL dereference (unpin_user_pages)',
      '    coverage: 4/4 edited statements ran (before 2/2, after 2/2); run on past a short pin 2, a return of 0 2, -errno 1',
      `    scenario: ${scenarioOf}`,
      '    before:',
      '      xb_map():',
      '      !! NULL dereference (release_pages)',
      '    after:',
      '      xb_map():',
      '      !! NULL dereference (unpin_user_pages)',
    ]);
  });

  it('and the pipeline refuses it under that code', () => {
    const { plan: p } = processText(xb('release_pages(pages, got)'), API_6_5, { core: false }, { verify: true });
    expect(p.output).toBe(xb('release_pages(pages, got)'));
    expect(p.groups.map((g) => [g.verdict, g.diagnostics])).toEqual([
      ['refused', [{
        code: 'unverified',
        line: 14,
        message: `not proven equivalent: model-fault: before and after both fault at corresponding calls: before NULL dereference (release_pages), after NULL dereference (unpin_user_pages); scenario: ${scenarioOf}`,
      }]],
    ]);
  });

  it('a fault in after where before runs on stays not equivalent', () => {
    expect(verdicts(xb('if (pages)\n\t\trelease_pages(pages, got)'), pinned('unpin_user_pages(pages, got)'))).toEqual([
      { verdict: 'not-equivalent/fault: after: NULL dereference (unpin_user_pages)', scenario: 'xb_map()' },
    ]);
  });

  it('a divergence in another scenario wins over the model-fault', () => {
    // The acquire left on FOLL_GET: every scenario that pins unpins a page that holds a reference.
    const [v] = verifyTexts(xb('release_pages(pages, got)'), xb('unpin_user_pages(pages, got)'), API_6_5);
    expect([v.verdict, v.divergence?.reason, v.code, v.faults]).toEqual(['not-equivalent', 'unpin-not-pinned', undefined, undefined]);
  });
});

/** One entry point run once: the calls it made (in order), what it returned, what it decided. */
function walk(src: string, entry: string, flips: string[] = []) {
  const o = runSession(lowerFile(parseC(src).rootNode), [entry], configFor(scenario(flips), API_6_5, new Oracle(new Set(flips))));
  return { events: o.events, returns: o.returns, unsupported: o.unsupported, decisions: o.decisionOrder };
}

describe('iterator macros and the bitmaps they walk', () => {
  const BITS = `int demo(unsigned long *ubits, int a, int b)
{
	unsigned long map[1];
	unsigned long got[1];
	int bit;

	memset(map, 0, sizeof(map));
	__set_bit(3, map);
	__set_bit(1, map);
	set_bit(a, map);
	__set_bit(5, map);
	__clear_bit(5, map);
	for_each_set_bit(bit, map, 8)
		hit(bit);
	done(bit, test_bit(3, map), test_bit(2, map), test_bit(b, map));
	if (copy_from_user(got, ubits, sizeof(got)))
		return -EFAULT;
	for_each_set_bit(bit, got, 64)
		user(bit);
	return bit;
}
`;

  it('for_each_set_bit() walks the bits the code set (known ones in order, then opaque ones) and ends at size', () => {
    expect(walk(BITS, 'demo')).toEqual({
      events: ['hit(1)', 'hit(3)', 'hit(param:a)', 'done(8, 1, 0, 0)', 'copy_from_user(&demo.got#2, param:ubits, 8)'],
      returns: ['demo() = 64'],
      unsupported: [],
      // Whether two bit numbers are one is the scenario's to say when one of them is opaque.
      decisions: ['(param:a==5)', '(param:a==2)', '(3==param:b)', '(1==param:b)', '(param:a==param:b)', 'copy_from_user()#1', '(set bits of demo.got#2>0)'],
    });
  });

  it('a bitmap copy_from_user() filled holds what the scenario says: one opaque bit when flipped', () => {
    const w = walk(BITS, 'demo', ['(param:a==param:b)', '(set bits of demo.got#2>0)']);
    expect(w.events.slice(3)).toEqual(['done(8, 1, 0, 1)', 'copy_from_user(&demo.got#2, param:ubits, 8)', 'user(set bit #0 of demo.got#2)']);
    expect(w.returns).toEqual(['demo() = 64']);
  });

  it('a break leaves the cursor on the bit; bitmap_zero() and test_and_set_bit() as bitops.h has them', () => {
    const src = `int demo(void)
{
	unsigned long map[2] = { 0 };
	int bit, old1, old2;

	old1 = test_and_set_bit(7, map);
	old2 = __test_and_set_bit(7, map);
	for_each_set_bit(bit, map, 128)
		if (bit == 7)
			break;
	mark(bit, old1, old2, find_first_bit(map, 128), bitmap_empty(map, 128));
	bitmap_zero(map, 128);
	return find_first_bit(map, 128) + bitmap_empty(map, 128);
}
`;
    expect(walk(src, 'demo')).toEqual({ events: ['mark(7, 0, 1, 7, 0)'], returns: ['demo() = 129'], unsupported: [], decisions: [] });
  });

  const CPUS = `int demo(int cpu0)
{
	cpumask_var_t pool;
	int cpu, n = 0;

	if (!zalloc_cpumask_var(&pool, GFP_KERNEL))
		return -ENOMEM;
	cpumask_set_cpu(2, pool);
	cpumask_set_cpu(cpu0, pool);
	cpumask_clear_cpu(2, pool);
	for_each_cpu(cpu, pool)
		mine(cpu, cpumask_test_cpu(cpu, pool));
	for_each_cpu(cpu, topology_sibling_cpumask(cpu0))
		sibling(cpu);
	for_each_possible_cpu(cpu)
		possible(cpu);
	for_each_online_cpu(cpu) {
		online(cpu);
		n++;
	}
	free_cpumask_var(pool);
	return n;
}
`;

  it('for_each_cpu() walks a cpumask the code filled; a mask it cannot see holds a CPU only if the scenario says so', () => {
    expect(walk(CPUS, 'demo')).toEqual({
      events: ['mine(param:cpu0, 1)', 'topology_sibling_cpumask(param:cpu0)', 'possible(boot cpu)', 'online(boot cpu)', 'free_cpumask_var(&zalloc_cpumask_var#1)'],
      returns: ['demo() = 1'],
      unsupported: [],
      decisions: ['zalloc_cpumask_var()#1 fails', '(param:cpu0==2)', '(set bits of topology_sibling_cpumask()#1>0)'],
    });
    expect(walk(CPUS, 'demo', ['(set bits of topology_sibling_cpumask()#1>0)']).events[2]).toBe('sibling(set bit #0 of topology_sibling_cpumask()#1)');
    expect(walk(CPUS, 'demo', ['zalloc_cpumask_var()#1 fails'])).toMatchObject({ events: [], returns: ['demo() = -12'] });
  });

  it('kvm_for_each_vcpu() walks kvm->online_vcpus vcpus (the scenario decides on one when opaque) and ends with NULL', () => {
    const src = `int demo(void)
{
	struct kvm *kvm = kvm_get(), *other = kvm_get();
	struct kvm_vcpu *vcpu;
	unsigned long i;

	kvm->online_vcpus = 2;
	kvm_for_each_vcpu(i, vcpu, kvm)
		kick(i, vcpu);
	kvm_for_each_vcpu(i, vcpu, other)
		poke(i, vcpu);
	return vcpu == NULL;
}
`;
    expect(walk(src, 'demo')).toEqual({
      events: ['kvm_get()', 'kvm_get()', 'kick(0, vcpu #0 of kvm_get()#1)', 'kick(1, vcpu #1 of kvm_get()#1)'],
      returns: ['demo() = 1'],
      unsupported: [],
      decisions: ['(kvm_get()#2.online_vcpus>0)'],
    });
    expect(walk(src, 'demo', ['(kvm_get()#2.online_vcpus>0)']).events.at(-1)).toBe('poke(0, vcpu #0 of kvm_get()#2)');
  });

  it('list_for_each_entry_rcu() walks the list as list_for_each_entry() does', () => {
    const src = `struct item { struct list_head node; int v; };
int demo(void)
{
	struct list_head head;
	struct item a, b, *it;

	INIT_LIST_HEAD(&head);
	list_add_tail(&a.node, &head);
	list_add(&b.node, &head);
	list_for_each_entry_rcu(it, &head, node)
		seen(it);
	return 0;
}
`;
    expect(walk(src, 'demo').events).toEqual(['seen(&demo.b#3)', 'seen(&demo.a#2)']);
  });
});

describe('iterator macros: kvm memslots', () => {
  const SLOTS = `int demo(struct kvm_memslots *slots)
{
	struct kvm_memory_slot *memslot;
	int bkt;

	kvm_for_each_memslot(memslot, bkt, slots)
		seen(memslot, bkt);
	return memslot == NULL;
}
`;

  it('kvm_for_each_memslot() walks opaque memslots when the scenario has one, skipping an empty one, and ends with NULL', () => {
    expect(walk(SLOTS, 'demo')).toMatchObject({ events: [], returns: ['demo() = 1'], decisions: ['(memslots of arg(struct kvm_memslots *)#1>0)'] });
    const one = walk(SLOTS, 'demo', ['(memslots of arg(struct kvm_memslots *)#1>0)']);
    expect(one).toMatchObject({ events: ['seen(memslot #0 of arg(struct kvm_memslots *)#1, 0)'], returns: ['demo() = 1'] });
    expect(one.decisions.at(-1)).toBe('(memslot #0 of arg(struct kvm_memslots *)#1.npages==0)');
    expect(walk(SLOTS, 'demo', ['(memslots of arg(struct kvm_memslots *)#1>0)', '(memslot #0 of arg(struct kvm_memslots *)#1.npages==0)']).events).toEqual([]);
  });
});

describe('reaching the release paths of real drivers', () => {
  const converted = (text: string) => {
    const { plan, verification } = processText(text, API_6_5, { core: false }, { verify: true });
    return plan.groups.map((g) => [g.verdict, verification.get(g.group.id)?.verdict, verification.get(g.group.id)?.reason]);
  };

  it('a page one entry point pins and returns the address of, released by another through virt_to_page() of its parameter, is of unknown origin there: released alike, not a kernel page', () => {
    // The shape of powerpc's kvmppc_pin_guest_page() / kvmppc_unpin_guest_page(), whose caller
    // passes the returned address back: the session cannot, so the page is one it cannot see.
    const before = `void *xg_pin(unsigned long hva)
{
	struct page *pages[1];

	if (get_user_pages_fast(hva, 1, FOLL_WRITE, pages) < 1)
		return NULL;
	return page_address(pages[0]);
}

void xg_unpin(void *va)
{
	struct page *page = virt_to_page(va);

	put_page(page);
}
`;
    const after = rewrite(before, ['get_user_pages_fast(', 'pin_user_pages_fast('], ['put_page(page);', 'unpin_user_page(page);']);
    // The acquire's group, and the release the site analysis leaves unlinked (a unit of its own).
    expect(verdicts(before, after)).toEqual([{ verdict: 'equivalent', scenario: undefined }, { verdict: 'equivalent', scenario: undefined }]);
  });

  it('two one-page acquires, the second failing after the first got its page: that error path is run (short-then-fail of code that acquires one page per call)', () => {
    // The shape of s390's adapter_indicators_set().
    const text = `static struct page *xa_map(struct mm_struct *mm, unsigned long uaddr)
{
	struct page *page = NULL;

	mmap_read_lock(mm);
	get_user_pages_remote(mm, uaddr, 1, FOLL_WRITE, &page, NULL);
	mmap_read_unlock(mm);
	return page;
}

int xa_set(struct mm_struct *mm, struct xa_req *req)
{
	struct page *ind, *summary;

	ind = xa_map(mm, req->ind_addr);
	if (!ind)
		return -1;
	summary = xa_map(mm, req->summary_addr);
	if (!summary) {
		put_page(ind);
		return -1;
	}
	set_page_dirty_lock(ind);
	set_page_dirty_lock(summary);
	put_page(ind);
	put_page(summary);
	return 0;
}
`;
    expect(converted(text)).toEqual([['converted', 'equivalent', undefined]]);
  });

  it('an opaque count is what the acquire was asked for in later comparisons, and a second acquire falls short after a full first one', () => {
    // The shape of vmci's qp_host_get_user_memory(): each count is a field the code computed.
    const text = `static void xq_release(struct page **pages, u64 n, bool dirty)
{
	int i;

	for (i = 0; i < n; i++) {
		if (dirty)
			set_page_dirty_lock(pages[i]);
		put_page(pages[i]);
		pages[i] = NULL;
	}
}

int xq_get(struct xq_pair *qp, u64 puva, u64 cuva)
{
	struct xq *p = qp->produce, *c = qp->consume;
	int ret;

	ret = get_user_pages_fast(puva, p->num_pages, FOLL_WRITE, p->pages);
	if (ret < (int)p->num_pages) {
		if (ret > 0)
			xq_release(p->pages, ret, false);
		return -ENOMEM;
	}
	ret = get_user_pages_fast(cuva, c->num_pages, FOLL_WRITE, c->pages);
	if (ret < (int)c->num_pages) {
		if (ret > 0)
			xq_release(c->pages, ret, false);
		xq_release(p->pages, p->num_pages, false);
		return -ENOMEM;
	}
	return 0;
}

void xq_put(struct xq_pair *qp)
{
	struct xq *p = qp->produce, *c = qp->consume;

	xq_release(p->pages, p->num_pages, true);
	xq_release(c->pages, c->num_pages, true);
}
`;
    // The release loop dirties where the bulk call skips pages already dirty.
    expect(converted(text)).toEqual([['converted', 'intended', undefined]]);
  });
});

describe("function-like macros the file defines", () => {
  const MACROS = `enum xs_state { XS_NONE, XS_MEM, XS_SHUT, XS_SHUT_MEM };
struct xs { int state; int n; };

#define XS_HAS_MEM(_x) ((_x)->state == XS_MEM || \\
			(_x)->state == XS_SHUT_MEM)
#define XS_TWICE(v) (XS_ADD(v, v))
#define XS_ADD(a, b) ((a) + (b)) /* a comment after the body */
#define XS_CUT(a) ((a) /* a comment inside it */ + 1)
#define XS_SELF(v) (XS_SELF(v) + 1)
#define XS_STMT(x) do { (x)->n = 0; } while (0)
#define XS_PASTE(a) xs_##a()

int demo(struct xs *x, int k)
{
	x->state = XS_NONE;
	if (XS_HAS_MEM(x))
		none(x);
	x->state = XS_SHUT_MEM;
	if (XS_HAS_MEM(x))
		shut_mem(x);
	report(XS_TWICE(3), XS_TWICE(k), XS_ADD(1), XS_SELF(2), XS_PASTE(z), XS_CUT(4));
	XS_STMT(x);
	return XS_HAS_MEM(x);
}
`;

  it('expands one whose body is an expression, so the state the code set decides it', () => {
    expect(walk(MACROS, 'demo')).toEqual({
      // XS_TWICE() expands to XS_ADD(), expanded in turn. XS_ADD(1) has the wrong number of
      // arguments, XS_SELF() is not expanded again inside itself; `##`, a body tree-sitter cuts
      // at a comment and a statement body leave the call as it was.
      events: [
        'shut_mem(&arg(struct xs *)#1)',
        'XS_ADD(1)',
        'XS_SELF(2)',
        'XS_PASTE(id:z)',
        'XS_CUT(4)',
        'report(6, (param:k+param:k), XS_ADD()#1, (XS_SELF()#1+1), XS_PASTE()#1, XS_CUT()#1)',
        'XS_STMT(&arg(struct xs *)#1)',
      ],
      returns: ['demo() = 1'],
      unsupported: [],
      decisions: [],
    });
  });

  it('but not one named like a function the file defines, or one defined twice differently', () => {
    const src = `#define xs_get(x) (1)
#define XS_TWO(x) (1)
#ifdef CONFIG_XS
#define XS_TWO(x) (2)
#endif
int xs_get(int x) { return 7; }
int demo(int x) { return xs_get(x) + XS_TWO(x); }
`;
    expect(walk(src, 'demo').returns).toEqual(['demo() = (7+XS_TWO()#1)']);
  });
});

describe('equality of two opaque values', () => {
  const EQ = `int demo(int a, int b)
{
	if (a != b)
		differ();
	if (a == b)
		same();
	if (b == a)
		same_again();
	return 0;
}
`;

  it('is one decision: `a != b` false makes `a == b` and `b == a` true', () => {
    const w = walk(EQ, 'demo');
    expect(w.events).toEqual(['same()', 'same_again()']);
    expect(w.decisions).toEqual(['(param:a==param:b)']);
  });

  it('and flipped, `a != b` true makes them false', () => {
    expect(walk(EQ, 'demo', ['(param:a==param:b)']).events).toEqual(['differ()']);
  });
});

describe('an opaque value compared with itself', () => {
  // The shape of kvmppc_update_vpa(): read a field, drop the lock to pin, take it again and
  // retry unless the field is unchanged. One thread runs, so nothing changed it.
  const RETRY = `struct xv { unsigned long next_gpa; spinlock_t lock; };

int demo(struct xv *v)
{
	unsigned long gpa;
	int tries = 0;

	for (;;) {
		gpa = v->next_gpa;
		spin_unlock(&v->lock);
		pin(gpa);
		spin_lock(&v->lock);
		if (gpa == v->next_gpa)
			break;
		unpin(gpa);
		tries++;
	}
	return tries + (gpa != v->next_gpa) + (gpa < v->next_gpa) + (gpa >= v->next_gpa);
}
`;

  it('is equal to it, not a decision: the retry loop is left at once', () => {
    expect(walk(RETRY, 'demo')).toEqual({
      events: ['spin_unlock(&arg(struct xv *)#1.lock)', 'pin(arg(struct xv *)#1.next_gpa)', 'spin_lock(&arg(struct xv *)#1.lock)'],
      returns: ['demo() = 1'],
      unsupported: [],
      decisions: [],
    });
  });
});

describe('an iterator macro the file defines as a for header', () => {
  // The shape of for_each_runnable_thread() in book3s_hv.c: a `for` whose condition calls a
  // static function of the file that finds the next non-NULL slot.
  const THREADS = `struct xt { unsigned long slot[4]; };

static unsigned long xt_next(struct xt *t, int *ip)
{
	int i = *ip;

	while (++i < 4) {
		if (t->slot[i]) {
			*ip = i;
			return t->slot[i];
		}
	}
	return 0;
}

#define for_each_xt_task(i, task, t) \\
	for (i = -1; (task = xt_next(t, &i)); )

int demo(struct xt *t, unsigned long a, unsigned long b)
{
	unsigned long task;
	int i;

	memset(t, 0, sizeof(*t));
	t->slot[1] = a;
	t->slot[3] = b;
	for_each_xt_task(i, task, t) {
		run(task, i);
	}
	for_each_xt_task(i, task, t)
		if (task == b)
			break;
	return i;
}
`;

  it("runs as the for it expands to, through the file's own function", () => {
    // A scenario where both values are non-zero: the walk visits both slots, and the second stops
    // at b (b == b needs no decision; a == b does).
    expect(walk(THREADS, 'demo', ['param:a', 'param:b'])).toEqual({
      events: ['run(param:a, 1)', 'run(param:b, 3)'],
      returns: ['demo() = 3'],
      unsupported: [],
      decisions: ['param:a', 'param:b', '(param:a==param:b)'],
    });
  });
});

describe('inline asm', () => {
  const ASM = `int demo(unsigned long *p, unsigned long v)
{
	unsigned long old;

	asm volatile("ptesync" : : : "memory");
	asm volatile("ldarx %0,0,%1" : "=&r" (old) : "r" (p), "r" (v) : "cc");
	if (old == v)
		same();
	return 0;
}
`;

  it('is an event both runs make alike; an output operand gets a value of its own', () => {
    expect(walk(ASM, 'demo')).toEqual({
      events: ['asm()', 'asm(param:p, param:v)'],
      returns: ['demo() = 0'],
      unsupported: [],
      decisions: ['(asm()#2==param:v)'],
    });
  });
});

describe('a fault in a dirtying call the conversion folded into the release', () => {
  // The short-pin path releases and clears the pages but reports success: teardown then
  // dirties a NULL page before, and the unpin that dirties it after faults on the same page.
  const FOLD = `struct xd { struct page *pages[2]; };

int xd_get(struct xd *d, unsigned long uaddr)
{
	int i, got = get_user_pages_fast(uaddr, 2, FOLL_WRITE, d->pages);

	if (got < 2) {
		for (i = 0; i < got; i++) {
			put_page(d->pages[i]);
			d->pages[i] = NULL;
		}
	}
	return 0;
}

void xd_put(struct xd *d)
{
	int i;

	for (i = 0; i < 2; i++) {
		set_page_dirty_lock(d->pages[i]);
		put_page(d->pages[i]);
	}
}
`;

  it('is the same fault at corresponding calls (a model-fault), not a difference', () => {
    const after = rewrite(
      FOLD,
      ['get_user_pages_fast(', 'pin_user_pages_fast('],
      ['put_page(d->pages[i]);\n\t\t\td->pages', 'unpin_user_page(d->pages[i]);\n\t\t\td->pages'],
      ['set_page_dirty_lock(d->pages[i]);\n\t\tput_page(d->pages[i]);', 'unpin_user_pages_dirty_lock(&d->pages[i], 1, true);'],
    );
    expect(verifyTexts(FOLD, after, API_6_5).map((g) => [g.verdict, g.code, g.reason])).toEqual([
      [
        'unverifiable',
        'model-fault',
        'model-fault: before and after both fault at corresponding calls: before NULL page passed to set_page_dirty_lock(), after NULL page passed to unpin_user_pages_dirty_lock()',
      ],
    ]);
  });
});

describe('an iterator macro whose body starts with a dereference', () => {
  // qaic's shape: the sg walk's body begins `*room -= …` and a later walk casts `(void *)slot`.
  // tree-sitter-c read the first header as `for_each_sgtable_dma_sg(…) * room -= …`, dropped its
  // `{` and ended xd_encode() at the walk's `}`: the chunk allocation after it, whose failure is
  // the only way into xd_cleanup(), was lost, and with it the converted release there.
  const XD = `struct xd_buf { struct sg_table *sgt; struct page **pages; int npages; };
struct xd_chunk { int len; u64 addr; };

static struct xd_chunk *xd_new_chunk(int size)
{
	struct xd_chunk *c = kzalloc(size, GFP_KERNEL);

	if (!c)
		return NULL;
	c->len = size;
	return c;
}

static int xd_map(struct xd_buf *b, unsigned long uaddr, int n)
{
	struct sg_table *sgt;
	int ret;
	int i;

	b->pages = kcalloc(n, sizeof(*b->pages), GFP_KERNEL);
	if (!b->pages)
		return -ENOMEM;
	ret = get_user_pages_fast(uaddr, n, 0, b->pages);
	if (ret != n) {
		for (i = 0; i < ret; i++)
			put_page(b->pages[i]);
		kfree(b->pages);
		return -EFAULT;
	}
	sgt = kmalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt) {
		for (i = 0; i < n; i++)
			put_page(b->pages[i]);
		kfree(b->pages);
		return -ENOMEM;
	}
	sg_alloc_table_from_pages(sgt, b->pages, n, 0, n * PAGE_SIZE, GFP_KERNEL);
	b->sgt = sgt;
	b->npages = n;
	return 0;
}

static int xd_encode(struct xd_buf *b, u32 *room)
{
	struct scatterlist *sg;
	struct xd_chunk *c;
	void *end;
	u64 *slot;
	int todo;
	int len;
	int i;

	todo = b->sgt->nents;
	*room = XD_ROOM;
	for_each_sgtable_dma_sg(b->sgt, sg, i) {
		*room -= sizeof(*slot);
		if (*room < XD_RESERVE) {
			todo = i;
			break;
		}
	}

	c = xd_new_chunk(XD_CHUNK);
	if (!c)
		return -ENOMEM;
	slot = &c->addr;
	end = (void *)c + XD_CHUNK;
	len = 0;
	for_each_sg(b->sgt->sgl, sg, todo, i) {
		if (len) {
			if ((void *)slot + sizeof(*slot) > end) {
				xd_flush(c);
			}
		}
		*slot = sg_dma_address(sg);
		len = sg_dma_len(sg);
	}
	return 0;
}

static void xd_cleanup(struct xd_buf *b)
{
	int i;

	sg_free_table(b->sgt);
	kfree(b->sgt);
	for (i = 0; i < b->npages; i++)
		put_page(b->pages[i]);
	kfree(b->pages);
}

int xd_ioctl(struct xd_buf *b, unsigned long uaddr, int n)
{
	u32 room;
	int ret;

	ret = xd_map(b, uaddr, n);
	if (ret)
		return ret;
	ret = xd_encode(b, &room);
	if (ret < 0)
		goto cleanup;
	return xd_send(b, room);
cleanup:
	xd_cleanup(b);
	return ret;
}

void xd_release(struct xd_buf *b)
{
	int i;

	for (i = 0; i < b->npages; i++)
		put_page(b->pages[i]);
	kfree(b->pages);
	sg_free_table(b->sgt);
	kfree(b->sgt);
}
`;

  it('parses as the loop it is, and lowers every statement of the function', () => {
    const walk = (n: { type: string; children: readonly unknown[] }): boolean => n.type === 'ERROR' || n.children.some((c) => walk(c as typeof n));
    expect(walk(parseC(XD).rootNode)).toBe(false);
    const { body } = lowerFile(parseC(XD).rootNode).get('xd_encode')!;
    expect(body.t === 'block' && body.body.map((s) => (s.t === 'macroloop' ? s.name : s.t))).toEqual([
      'decl', 'decl', 'decl', 'decl', 'decl', 'decl', 'decl', 'expr', 'expr', 'for_each_sgtable_dma_sg', 'expr', 'if', 'expr', 'expr', 'expr', 'for_each_sg', 'ret',
    ]);
  });

  it('leaves a function named like an iterator a function', () => {
    const root = parseC('static int\nxd_for_each(int n)\n{\n\treturn n;\n}\n').rootNode;
    expect(root.namedChildren.map((c) => c.type)).toEqual(['function_definition']);
  });

  it('reaches the teardown only the failed allocation after the walk calls: equivalent, every edited statement run', () => {
    const { plan, verification } = processText(XD, API_6_5, { core: false }, { verify: true });
    expect(plan.groups.map((g) => g.verdict)).toEqual(['converted']);
    expect(verdictLines('xd.c', verification.get(plan.groups[0].group.id)!)).toEqual([
      'xd.c:23: equivalent: get_user_pages_fast() with 4 releases, 37 scenarios',
      '    coverage: 18/18 edited statements ran (before 12/12, after 6/6); run on past a short pin 2, a return of 0 2, -errno 1',
    ]);
  });
});

describe('a type argument tree-sitter cannot read', () => {
  it('names no value: offsetofend(struct foo, m) is a call like any other, not unmodelled code', () => {
    const src = `int demo(void)\n{\n\treturn copy_to_user(NULL, NULL, offsetofend(struct foo, m));\n}\n`;
    expect(walk(src, 'demo').unsupported).toEqual([]);
  });
});

describe('a file that defines a function the simulator models', () => {
  /** A driver function taking pages with `acquire` and putting them back in a loop. */
  const demo = (acquire: string) => `static int demo(unsigned long uaddr, int n)
{
	struct page *pages[8];
	int i, got;

	got = ${acquire};
	if (got <= 0)
		return got;
	for (i = 0; i < got; ++i)
		put_page(pages[i]);
	return 0;
}
`;

  // As include/linux/mm.h does: its own put_page(), which skips slab pages. The API call is run
  // as its model, the same in the file that defines it as in every file that includes it.
  const OWN_PUT_PAGE = `static inline void put_page(struct page *page)
{
	struct folio *folio = page_folio(page);

	if (folio_test_slab(folio))
		return;
	folio_put(folio);
}

${demo('get_user_pages_fast(uaddr, n, FOLL_WRITE, pages)')}`;

  it("runs a call of it as the model, not as the file's own body", () => {
    const { plan, verification } = processText(OWN_PUT_PAGE, API_6_5, { core: false }, { verify: true });
    expect(plan.groups.map((g) => [g.verdict, g.diagnostics])).toEqual([['converted', []]]);
    expect([...verification.values()].map((v) => v.verdict)).toEqual(['equivalent']);
  });

  // A driver's helper that only shares a name the conversion emits (fixtures/name-clash-rename).
  const OWN_PIN_USER_PAGES = `static int pin_user_pages(unsigned long uaddr, int n, struct page **pages)
{
	return get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);
}

${demo('pin_user_pages(uaddr, n, pages)')}`;

  it("but runs a driver's own function named like a call the conversion emits as its body", () => {
    const { plan, verification } = processText(OWN_PIN_USER_PAGES, API_6_5, { core: false, file: 'drivers/misc/demo.c' }, { verify: true });
    expect(plan.groups.map((g) => [g.verdict, g.diagnostics])).toEqual([['converted', []]]);
    expect(plan.output).toContain('static int demo_pin_user_pages(unsigned long uaddr');
    expect([...verification.values()].map((v) => v.verdict)).toEqual(['equivalent']);
  });
});
