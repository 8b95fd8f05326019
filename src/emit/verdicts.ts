/** Verify output: one line per pin group with the simulator's verdict, the divergence spelled out. */
import { coverageLine } from '../sim/coverage.ts';
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

const differenceText = (v: GroupVerification) => v.differences.map((d) => INTENDED_DIFFERENCES[d]).join('; ');

/** The last lines of the before and after runs, indented under the verdict. */
const traceLines = (before: string[], after: string[]) => [
  '    before:',
  ...before.map((l) => `      ${l.trim()}`),
  '    after:',
  ...after.map((l) => `      ${l.trim()}`),
];

/** `file:line: verdict …`, the coverage of its scenarios, and for a divergence or a model-fault the scenario and both traces. */
export function verdictLines(display: string, v: GroupVerification): string[] {
  const at = `${display}:${v.line}:`;
  const n = `${v.scenarios} scenario${v.scenarios === 1 ? '' : 's'}`;
  const coverage = v.coverage ? [`    ${coverageLine(v.coverage)}`] : [];
  switch (v.verdict) {
    case 'equivalent':
      return [`${at} equivalent: ${v.what}, ${n}`, ...coverage];
    case 'intended':
      return [`${at} equivalent with intended differences: ${v.what}, ${n}; ${differenceText(v)}`, ...coverage];
    case 'unverifiable': {
      const f = v.faults;
      return [`${at} unverifiable: ${v.what}: ${v.reason}`, ...coverage, ...(f ? [`    scenario: ${f.scenario}`, ...traceLines(f.before, f.after)] : [])];
    }
    case 'not-equivalent': {
      const d = v.divergence!;
      return [`${at} NOT EQUIVALENT ${d.reason}: ${v.what}: ${d.detail}`, ...coverage, `    scenario: ${d.scenario}`, ...traceLines(d.before, d.after)];
    }
  }
}

export function storyLines(story: Story): string[] {
  return [`    story: ${story.scenario}`, ...traceLines(story.before, story.after)];
}
