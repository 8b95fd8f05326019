/** What a series is made from: one record per file, built from the planner's (and simulator's) results. */
import type { Diagnostic } from '../sites/diagnostics.ts';
import { INTENDED_DIFFERENCES } from '../sim/verdict.ts';

export interface Refusal {
  line: number;
  code: string;
  message: string;
}

export interface ConvertedFile {
  /** Relative to the repository root, forward slashes. */
  path: string;
  before: string;
  /** The converted text (=== before when nothing converted). */
  after: string;
  /** The converted pin groups. */
  converted: Array<{ line: number; acquires: string[] }>;
  /** Intended behaviour differences the simulator reported (keys of INTENDED_DIFFERENCES). */
  differences: string[];
  /** Groups left alone, with the reason: the cover letter's "not converted" section. */
  refused: Refusal[];
  /** Converted groups the simulator could not model (named in the cover letter). */
  unverified?: Array<{ line: number; reason: string }>;
  /** Git file mode, default 100644. */
  mode?: string;
}

/** The parts of a FilePlan this module reads (structural, so worker records fit too). */
interface PlanLike {
  output: string;
  groups: ReadonlyArray<{ verdict: string; group: { id: number; line: number; acquires: ReadonlyArray<{ name: string }> }; diagnostics: readonly Diagnostic[] }>;
  notGup: readonly Diagnostic[];
}

interface VerificationLike {
  verdict: string;
  differences: readonly string[];
  reason?: string;
}

/** Plain per-group records (the worker pool's reports) with the converted text beside them. */
interface ReportLike {
  groups: ReadonlyArray<{ id: number; line: number; verdict: string; acquires: ReadonlyArray<{ call: string }>; diagnostics: readonly Diagnostic[] }>;
  notGup: readonly Diagnostic[];
  verification: ReadonlyMap<number, VerificationLike>;
}

interface Group {
  id: number;
  line: number;
  verdict: string;
  acquires: string[];
  diagnostics: readonly Diagnostic[];
}

/** A ConvertedFile from `processText(before, api, …)`'s result. */
export function convertedFile(path: string, before: string, result: { plan: PlanLike; verification: ReadonlyMap<number, VerificationLike> }): ConvertedFile {
  const groups = result.plan.groups.map((g) => ({ id: g.group.id, line: g.group.line, verdict: g.verdict, acquires: g.group.acquires.map((a) => a.name), diagnostics: g.diagnostics }));
  return build(path, before, result.plan.output, groups, result.plan.notGup, result.verification);
}

/** A ConvertedFile from per-file report records and the converted text. */
export function convertedFileFromReport(path: string, before: string, after: string, report: ReportLike): ConvertedFile {
  const groups = report.groups.map((g) => ({ id: g.id, line: g.line, verdict: g.verdict, acquires: g.acquires.map((a) => a.call), diagnostics: g.diagnostics }));
  return build(path, before, after, groups, report.notGup, report.verification);
}

function build(path: string, before: string, after: string, groups: Group[], notGup: readonly Diagnostic[], verification: ReadonlyMap<number, VerificationLike>): ConvertedFile {
  const converted = groups.filter((g) => g.verdict === 'converted');
  const seen = new Set(converted.flatMap((g) => verification.get(g.id)?.differences ?? []));
  const refused: Refusal[] = groups
    .filter((g) => g.verdict === 'refused' && g.diagnostics.length)
    .map((g) => {
      const [d] = g.diagnostics;
      const more = g.diagnostics.length > 1 ? ` (+${g.diagnostics.length - 1} more)` : '';
      return { line: d.line, code: d.code, message: d.message + more };
    });
  refused.push(...notGup.map((d) => ({ line: d.line, code: d.code, message: d.message })));
  refused.sort((a, b) => a.line - b.line);
  return {
    path: path.replace(/\\/g, '/'),
    before,
    after,
    converted: converted.map((g) => ({ line: g.line, acquires: [...new Set(g.acquires)] })),
    // In the vocabulary's order, so patches word them the same way every time.
    differences: Object.keys(INTENDED_DIFFERENCES).filter((k) => seen.has(k)),
    refused,
    unverified: converted.flatMap((g) => {
      const v = verification.get(g.id);
      return v?.verdict === 'unverifiable' ? [{ line: g.line, reason: v.reason ?? 'not modelled' }] : [];
    }),
  };
}
