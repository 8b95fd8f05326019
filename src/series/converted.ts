/** What a series is made from: one record per file, built from the planner's (and simulator's) results. */
import { fileReport } from '../emit/report.ts';
import type { FilePlan } from '../plan/plan.ts';
import type { GroupVerification } from '../sim/verdict.ts';
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
  /** Exported functions the converted groups' pages pass through (out-of-tree users change too). */
  exported?: string[];
  /** The file's own functions renamed with the conversion (H14). */
  renamed?: Array<{ from: string; to: string; path: string }>;
  /** The linked unit the file was converted in (its files, one per line): they go in one patch. */
  unit?: string;
}

interface VerificationLike {
  verdict: string;
  differences: readonly string[];
  reason?: string;
}

/** What a run reports for one file (a FileResult, or a FileReport with its two texts). */
export interface FileRecord {
  display: string;
  original: string;
  output: string;
  groups: ReadonlyArray<{
    id: number;
    line: number;
    verdict: string;
    acquires: ReadonlyArray<{ call: string }>;
    diagnostics: readonly Diagnostic[];
    exported?: readonly string[];
    renamed?: ReadonlyArray<{ from: string; to: string }>;
  }>;
  notGup: readonly Diagnostic[];
  verification: ReadonlyMap<number, VerificationLike>;
  /** Every file of the linked unit it was analysed in, when linked. */
  linked?: readonly string[];
}

/** Intended-difference names in the vocabulary's order, so patches word them the same way every time. */
export const inVocabularyOrder = (names: Iterable<string>): string[] => {
  const seen = new Set(names);
  return Object.keys(INTENDED_DIFFERENCES).filter((k) => seen.has(k));
};

/** A ConvertedFile from `processText(before, api, …)`'s result. */
export function convertedFile(path: string, before: string, result: { plan: FilePlan; verification: Map<number, GroupVerification> }): ConvertedFile {
  return convertedFileFromReport({ original: before, output: result.plan.output, ...fileReport(path, result.plan, result.verification) });
}

/** A ConvertedFile from what a run reports for one file. */
export function convertedFileFromReport(file: FileRecord): ConvertedFile {
  const { groups, verification } = file;
  const converted = groups.filter((g) => g.verdict === 'converted');
  const refused: Refusal[] = groups
    .filter((g) => g.verdict === 'refused' && g.diagnostics.length)
    .map((g) => {
      const [d] = g.diagnostics;
      const more = g.diagnostics.length > 1 ? ` (+${g.diagnostics.length - 1} more)` : '';
      return { line: d.line, code: d.code, message: d.message + more };
    });
  refused.push(...file.notGup.map((d) => ({ line: d.line, code: d.code, message: d.message })));
  refused.sort((a, b) => a.line - b.line);
  return {
    path: file.display.replace(/\\/g, '/'),
    before: file.original,
    after: file.output,
    converted: converted.map((g) => ({ line: g.line, acquires: [...new Set(g.acquires.map((a) => a.call))] })),
    differences: inVocabularyOrder(converted.flatMap((g) => verification.get(g.id)?.differences ?? [])),
    refused,
    unverified: converted.flatMap((g) => {
      const v = verification.get(g.id);
      return v?.verdict === 'unverifiable' ? [{ line: g.line, reason: v.reason ?? 'not modelled' }] : [];
    }),
    ...(converted.some((g) => g.exported?.length) && { exported: [...new Set(converted.flatMap((g) => g.exported ?? []))].sort() }),
    ...(file.linked && { unit: file.linked.join('\n') }),
    // Every converted group of the file carries its renames.
    ...(converted[0]?.renamed && { renamed: converted[0].renamed.map((r) => ({ from: r.from, to: r.to, path: file.display.replace(/\\/g, '/') })) }),
  };
}
