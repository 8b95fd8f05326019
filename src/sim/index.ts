/**
 * Verification inside the pipeline: plan a file, simulate the result, and refuse every group
 * the simulator finds not equivalent (re-planning without it), so diff/apply/series never emit
 * a conversion that changes behaviour.
 */
import { planFile, type FilePlan, type Policy } from '../plan/plan.ts';
import type { Diagnostic } from '../sites/diagnostics.ts';
import type { FileAnalysis } from '../sites/groups.ts';
import type { TargetApi } from '../target.ts';
import { timed } from '../timing.ts';
import { DIVERGENCE_REASONS, type GroupVerification } from './verdict.ts';
import { explain, verifyTexts, type AfterText, type Story, type VerifyInput } from './verify.ts';

const MAX_ROUNDS = 3;

function refusalFor(v: GroupVerification): Diagnostic {
  if (v.verdict === 'unverifiable')
    return { code: 'unverified', line: v.line, message: `not proven equivalent: ${v.reason}${v.faults ? `; scenario: ${v.faults.scenario}` : ''}` };
  const d = v.divergence!;
  return {
    code: 'not-equivalent',
    line: v.line,
    message: `${DIVERGENCE_REASONS[d.reason]} (${d.reason}): ${d.detail}; scenario: ${d.scenario}`,
  };
}

/**
 * Plan, simulate, and re-plan without every converted group that is not proven equivalent: one
 * that diverges, and one the simulator could not judge (unmodelled code, edited statements no
 * scenario ran). Without proof a conversion is not made: `--no-verify` makes it unproven.
 */
export function planVerified(analysis: FileAnalysis, api: TargetApi, policy: Policy): { plan: FilePlan; verification: Map<number, GroupVerification> } {
  let plan = timed('plan', () => planFile(analysis, api, policy));
  const verification = new Map<number, GroupVerification>();
  const forced = new Map(policy.forced ?? []);
  for (let round = 0; round < MAX_ROUNDS && plan.output !== analysis.text; round++) {
    const converted = new Set(plan.groups.filter((g) => g.verdict === 'converted').map((g) => g.group.id));
    const results = verifyTexts({ text: analysis.text, analysis }, { text: plan.output, edits: plan.edits }, api);
    for (const r of results) verification.set(r.group, r);
    // Unproven is refused like not equivalent: not-reached, unmodelled, no-entry and model-fault
    // (whose scenario, where both runs stopped, is exactly the one nobody compared).
    const failing = results.filter((r) => converted.has(r.group) && (r.verdict === 'not-equivalent' || r.verdict === 'unverifiable'));
    if (!failing.length) break;
    for (const r of failing) forced.set(r.group, [refusalFor(r)]);
    plan = timed('plan', () => planFile(analysis, api, { ...policy, forced }));
  }
  return { plan, verification };
}

/** `gup2pin verify`: the verdict on one changed group, and with --explain its writeback story. */
export interface Check {
  verification: GroupVerification;
  story?: Story;
}

export function checkConversion(before: VerifyInput, after: string | AfterText, api: TargetApi, withStories: boolean): Check[] {
  return verifyTexts(before, after, api).map((v) => ({
    verification: v,
    story: withStories && v.group >= 0 && v.verdict !== 'unverifiable' ? explain(before, after, api, v.group) : undefined,
  }));
}
