/** Verify output: one line per pin group with the simulator's verdict, the divergence spelled out. */
import { INTENDED_DIFFERENCES, type GroupVerification } from '../sim/verdict.ts';
import type { Story } from '../sim/verify.ts';

export interface VerdictCounts {
  equivalent: number;
  intended: number;
  notEquivalent: number;
  unverifiable: number;
  scenarios: number;
}

export const emptyCounts = (): VerdictCounts => ({ equivalent: 0, intended: 0, notEquivalent: 0, unverifiable: 0, scenarios: 0 });

export function count(c: VerdictCounts, v: GroupVerification) {
  c.scenarios += v.scenarios;
  if (v.verdict === 'equivalent') c.equivalent++;
  else if (v.verdict === 'intended') c.intended++;
  else if (v.verdict === 'not-equivalent') c.notEquivalent++;
  else c.unverifiable++;
}

export const countsLine = (c: VerdictCounts) =>
  `${c.equivalent} equivalent, ${c.intended} equivalent with intended differences, ${c.notEquivalent} not equivalent, ${c.unverifiable} unverifiable (${c.scenarios} scenarios)`;

export const differenceText = (v: GroupVerification) => v.differences.map((d) => INTENDED_DIFFERENCES[d]).join('; ');

/** `file:line: verdict …` plus, for a divergence, the scenario and both traces. */
export function verdictLines(display: string, v: GroupVerification, what: string): string[] {
  const at = `${display}:${v.line}:`;
  const n = `${v.scenarios} scenario${v.scenarios === 1 ? '' : 's'}`;
  switch (v.verdict) {
    case 'equivalent':
      return [`${at} equivalent: ${what}, ${n}`];
    case 'intended':
      return [`${at} equivalent with intended differences: ${what}, ${n}; ${differenceText(v)}`];
    case 'unverifiable':
      return [`${at} unverifiable: ${what}: ${v.reason}`];
    case 'not-equivalent': {
      const d = v.divergence!;
      return [
        `${at} NOT EQUIVALENT ${d.reason}: ${what}: ${d.detail}`,
        `    scenario: ${d.scenario}`,
        '    before:',
        ...d.before.map((l) => `      ${l.trim()}`),
        '    after:',
        ...d.after.map((l) => `      ${l.trim()}`),
      ];
    }
  }
}

export function storyLines(story: Story): string[] {
  return [
    `    story: ${story.scenario}`,
    '    before:',
    ...story.before.map((l) => `      ${l.trim()}`),
    '    after:',
    ...story.after.map((l) => `      ${l.trim()}`),
  ];
}
