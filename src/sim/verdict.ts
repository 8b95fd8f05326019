/**
 * What the simulator concludes about one pin group: the vocabulary shared by the verifier, the
 * commands that print verdicts and the tests that assert them.
 */

/** Why a before/after pair is not equivalent: the first property that differs. */
export const DIVERGENCE_REASONS = {
  leak: 'a page stays referenced or pinned after the code that released it before',
  'over-release': 'a page is released more often than it was acquired',
  'put-on-pinned': 'put_page() on a page acquired with FOLL_PIN: the pin leaks',
  'unpin-not-pinned': 'unpin on a page that was not acquired with FOLL_PIN: the count underflows',
  'not-pinned': 'a page the device uses is not reported by page_maybe_dma_pinned()',
  dirty: 'a different set of pages ends up dirty',
  'use-after-release': 'a page is touched after its reference was dropped',
  'sleep-in-atomic': 'a call that may sleep now runs in atomic context',
  memory: 'different values are left in memory (arrays, fields)',
  calls: 'a different sequence of calls the simulator cannot see into',
  return: 'a function returns a different value',
  fault: 'the code faults (NULL dereference, runaway loop) where it did not before',
} as const;

export type DivergenceReason = keyof typeof DIVERGENCE_REASONS;

/** Behaviour changes a conversion makes on purpose (domain reference H7). */
export const INTENDED_DIFFERENCES = {
  'set_page_dirty-to-lock': 'set_page_dirty() → dirtying under the page lock (set_page_dirty_lock semantics)',
  'SetPageDirty-to-mapping': 'SetPageDirty() → mapping-aware dirtying (set_page_dirty semantics, under the page lock)',
  'already-dirty-skipped': 'pages already dirty are not dirtied again',
} as const;

export type IntendedDifference = keyof typeof INTENDED_DIFFERENCES;

export interface Divergence {
  reason: DivergenceReason;
  /** The scenario in which before and after first differ, e.g. `3 pages, gup short (2), flip !dma_mapping_error`. */
  scenario: string;
  /** One line saying what differs. */
  detail: string;
  /** The last lines of each run's page log, for the reader. */
  before: string[];
  after: string[];
}

export type SimVerdict = 'equivalent' | 'intended' | 'not-equivalent' | 'unverifiable';

/** Why a group is unverifiable: the first word of its reason, for scripts and the refusal. */
export const UNVERIFIABLE_CODES = {
  'not-reached': 'an edited statement, or a GUP outcome, was not reached by any scenario',
  'model-fault': 'before and after both fault at corresponding calls: the model, not the code, stops there',
  unmodelled: 'the runs go through code the simulator does not model',
  'no-entry': 'no entry point of the file reaches the code',
} as const;

export type UnverifiableCode = keyof typeof UNVERIFIABLE_CODES;

/** One edited statement (removed in before, added in after) and how many scenarios ran it. */
export interface StatementCoverage {
  side: 'before' | 'after';
  line: number;
  /** The statement's first line, trimmed. */
  text: string;
  runs: number;
}

/** GUP results a conversion must be checked against: a short pin, 0 pages, an -errno. */
export type GupOutcome = 'short' | 'zero' | 'errno';

export interface OutcomeCoverage {
  outcome: GupOutcome;
  /** Scenarios where an acquire returned that and the before run went on to its end. */
  runs: number;
  /** Why the outcome cannot happen here (an acquire of one page is never short). */
  impossible?: string;
}

/** What the scenarios of one group executed: the proof is only as good as this. */
export interface Coverage {
  statements: StatementCoverage[];
  /** Empty for a group without an acquire in the file. */
  outcomes: OutcomeCoverage[];
}

export interface GroupVerification {
  /** Pin group id in the before file (FileAnalysis.groups[].id). */
  group: number;
  line: number;
  /** What was compared, e.g. `get_user_pages_fast() with 2 releases`. */
  what: string;
  verdict: SimVerdict;
  /** Intended differences observed (verdict 'intended'). */
  differences: IntendedDifference[];
  /** Scenarios run on both sides. */
  scenarios: number;
  divergence?: Divergence;
  /** Why the group could not be simulated (verdict 'unverifiable'). */
  reason?: string;
  /** The class of that reason (verdict 'unverifiable'). */
  code?: UnverifiableCode;
  /** Every scenario's reach into the edited code, both sides. */
  coverage?: Coverage;
  /** Code `model-fault`: the scenario where both runs fault at corresponding calls, and their traces. */
  faults?: { scenario: string; before: string[]; after: string[] };
}
