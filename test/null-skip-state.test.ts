/**
 * Issue 17, "reaching real release paths": fixtures/null-skip-state is a blit driver whose
 * release loop skips the NULL slots a short pin leaves in its vzalloc()'d array. The loop sits in
 * a `switch` on a state field with fall-through cases, reached from the setup's error path
 * through a helper and, after a transfer, from the work function the ioctl queues (container_of
 * back to the queue) and from the file's release. The in-place conversion keeps the NULL test and
 * must verify equivalent; a bulk unpin over the whole array (the shipped via_dmablit bug)
 * dereferences the NULL slots and must not — and both verdicts must come from scenarios that ran
 * the release, not from none doing so.
 */
import { describe, expect, it } from 'vitest';
import { parseC } from '../src/parse/kernel-c.ts';
import { analyze } from '../src/sites/groups.ts';
import { lowerAnalysed } from '../src/sim/edited.ts';
import { planScenarios, type GupMode } from '../src/sim/scenarios.ts';
import { verifyTexts } from '../src/sim/verify.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { read } from './helpers.ts';

const API = apiFor(parseVersion('6.5'));
const before = read('null-skip-state', 'before.c');
const inPlace = read('null-skip-state', 'after.6.5.c');

/** The in-place loop replaced by one unpin over the whole array, NULL slots included. */
const LOOP = `		for (i = 0; i < sg->num_pages; i++) {
			if ((page = sg->pages[i]) != NULL) {
				unpin_user_pages_dirty_lock(&page, 1,
							    sg->direction == DMA_FROM_DEVICE);
			}
		}
`;
const BULK = `		unpin_user_pages_dirty_lock(sg->pages, sg->num_pages,
					    sg->direction == DMA_FROM_DEVICE);
`;

function verdicts(after: string) {
  return verifyTexts(before, after, API).map((g) => ({
    verdict: g.divergence ? `${g.verdict}/${g.divergence.reason}: ${g.divergence.detail}` : g.verdict,
    scenario: g.divergence?.scenario,
  }));
}

describe('null-skip-state: a NULL-skipping release behind a state switch', () => {
  it('the in-place conversion (NULL test kept) is equivalent', () => {
    expect(inPlace).toContain(LOOP);
    expect(verdicts(inPlace)).toEqual([{ verdict: 'equivalent', scenario: undefined }]);
  });

  it('a bulk unpin over the NULL slots a short pin leaves is not equivalent', () => {
    const bulk = inPlace.replace(LOOP, BULK);
    expect(bulk).not.toBe(inPlace);
    expect(verdicts(bulk)).toEqual([
      {
        verdict: 'not-equivalent/unpin-not-pinned: unpin_user_pages_dirty_lock() on a NULL entry: nothing was pinned there',
        scenario: 'xbl_ioctl() then xbl_workqueue(): 3 pages, get_user_pages_fast() first gets one page short, then the rest',
      },
    ]);
  });

  it('drives the ioctl, then the work function it queued or the file release, and every GUP outcome reaches the teardown', () => {
    const analysis = analyze(before, parseC(before));
    const funcs = lowerAnalysed(analysis).funcs;
    const reaches: Record<string, Partial<Record<GupMode, boolean>>> = {};
    for (const steps of [['xbl_ioctl', 'xbl_workqueue'], ['xbl_ioctl', 'xbl_release']]) {
      const plan = planScenarios(funcs, steps, API, 'get_user_pages_fast');
      const byMode: Partial<Record<GupMode, boolean>> = {};
      for (const s of plan.scenarios.filter((x) => x.flips.length === 0 && !x.folioOrder && !x.zeroPage && !x.writeback && !x.scattered && x.n === 3)) {
        const run = plan.runs.get(s);
        // The teardown ran, and released the pages the mode pinned: none for zero and -errno.
        const released = run.log.filter((l) => /^put_page\(P\d\)/.test(l.trim())).length;
        byMode[s.mode] = run.entered.has('xbl_free_sg') && released === { full: 3, short: 2, 'short-fail': 2, zero: 0, errno: 0 }[s.mode] && !run.fault;
      }
      reaches[steps.join(' → ')] = byMode;
    }
    const all = { full: true, short: true, 'short-fail': true, zero: true, errno: true };
    expect(reaches).toEqual({ 'xbl_ioctl → xbl_workqueue': all, 'xbl_ioctl → xbl_release': all });
  });
});
