/**
 * Scan reports: coccicheck-style lines (`file:line: verdict code: reason`) and JSON, built from
 * plain per-file records — a worker thread makes them, the main thread prints them.
 */
import { callName, lineOf } from '../sites/ast.ts';
import type { Diagnostic } from '../sites/diagnostics.ts';
import type { FilePlan, GroupResult, Verdict } from '../plan/plan.ts';
import type { GroupVerification } from '../sim/verdict.ts';
import { versionLabel, type TargetApi } from '../target.ts';

/** One pin group as reported: plain data, nothing that points into a syntax tree. */
export interface GroupReport {
  id: number;
  line: number;
  verdict: Verdict;
  family: 'gup' | 'pin';
  /** `file`: set when the call is in another file than the one reported on (a linked group). */
  acquires: Array<{ line: number; file?: string; function: string; call: string; variant: string }>;
  releases: Array<{ line: number; file?: string; function: string; call: string | undefined; api: string; transform: string | null }>;
  diagnostics: Diagnostic[];
  /** Release transforms in the order they rewrote, for the scan line. */
  transforms: string[];
  differences: string[];
  /** Hazards of the original the conversion keeps (a sleep under a spinlock): reported, not refused. */
  findings?: Diagnostic[];
  /** Every file the group's calls are in (this one first), when it was linked across files. */
  files?: string[];
  /** The other files it was analysed with (their callers, their struct users), when linked. */
  linkedWith?: string[];
  /** Exported functions (EXPORT_SYMBOL*) its pages pass through: out-of-tree users change too. */
  exported?: string[];
  /** Calls of functions defined elsewhere, not modelled, that are handed the pages. */
  escapes: Array<{ line: number; file?: string; function: string; call: string }>;
  /** The file's own functions named like the API, renamed with the conversion (H14). */
  renamed?: Array<{ from: string; to: string; line: number }>;
}

/** What one file contributes to every report. */
export interface FileReport {
  display: string;
  groups: GroupReport[];
  notGup: Diagnostic[];
  /** Simulator verdict per pin group id (empty with --no-verify). */
  verification: Map<number, GroupVerification>;
}

const diag = (d: Diagnostic): Diagnostic => ({ code: d.code, line: d.line, message: d.message, ...(d.file && { file: d.file }) });

function groupReport(g: GroupResult, exported: ReadonlyMap<number, string[]>): GroupReport {
  const names = exported.get(g.group.id);
  return {
    ...(names && { exported: names }),
    ...(g.renamed && { renamed: g.renamed.map((r) => ({ ...r })) }),
    id: g.group.id,
    line: g.group.line,
    verdict: g.verdict,
    family: g.group.family,
    acquires: g.group.acquires.map((a) => ({ line: lineOf(a.call), function: a.fn.name, call: a.name, variant: a.layout.variant })),
    releases: g.group.releases.map((r) => ({
      line: lineOf(r.call),
      function: r.fn.name,
      call: callName(r.call),
      api: r.name,
      transform: g.rewrites.find((w) => w.line === lineOf(r.call))?.transform ?? null,
    })),
    diagnostics: g.diagnostics.map(diag),
    transforms: [...new Set(g.rewrites.map((r) => r.transform))],
    differences: g.differences,
    escapes: g.group.escapes.map((e) => ({ line: lineOf(e.call), function: e.fn.name, call: e.callee })),
    ...(g.findings?.length && { findings: g.findings.map(diag) }),
  };
}

export function fileReport(
  display: string,
  plan: FilePlan,
  verification: Map<number, GroupVerification>,
  exported: ReadonlyMap<number, string[]> = new Map(),
): FileReport {
  return { display, groups: plan.groups.map((g) => groupReport(g, exported)), notGup: plan.notGup.map(diag), verification };
}

export interface Summary {
  converted: number;
  refused: number;
  alreadyPinned: number;
  files: number;
}

export function summarize(files: readonly FileReport[]): Summary {
  const s: Summary = { converted: 0, refused: 0, alreadyPinned: 0, files: files.length };
  for (const f of files) {
    for (const g of f.groups) {
      if (g.verdict === 'converted') s.converted++;
      else if (g.verdict === 'refused') s.refused++;
      else s.alreadyPinned++;
    }
    s.refused += f.notGup.length;
  }
  return s;
}

export const summaryLine = (s: Summary) =>
  `${s.converted} converted, ${s.refused} refused, ${s.alreadyPinned} already pinned, ${s.files} file${s.files === 1 ? '' : 's'}`;

/**
 * The closing line of a command that changes files, like jscodeshift's: the groups, then the
 * files changed (`changed` names how: "changed", "written", "mails written") and left
 * unchanged, the candidate files not analysed for want of anything to convert (`diff`, `apply`),
 * the errors, and the time taken.
 */
export function closingLine(s: Summary, changed: { count: number; as: string }, unchanged: number, setAside: number | undefined, errors: number, seconds: number): string {
  const aside = setAside === undefined ? '' : `${setAside} with nothing to convert, `;
  return `${s.converted} converted, ${s.refused} refused, ${s.alreadyPinned} already pinned, ${changed.count} ${changed.as}, ${unchanged} unchanged, ${aside}${errors} error${errors === 1 ? '' : 's'}, ${seconds.toFixed(2)} s`;
}

function groupLine(g: GroupReport): { line: number; file?: string; text: string } {
  const names = [...new Set(g.acquires.map((a) => `${a.call}()`))].join(', ');
  if (g.verdict === 'refused') {
    const d = g.diagnostics[0];
    const more = g.diagnostics.length > 1 ? ` (+${g.diagnostics.length - 1} more)` : '';
    return { line: d.line, file: d.file, text: `refused ${d.code}: ${d.message}${more}` };
  }
  // This file's releases first, then the other files' (already in path order).
  const releases = [...g.releases.filter((r) => !r.file), ...g.releases.filter((r) => r.file)];
  const at = !releases.length
    ? 'no line'
    : releases.some((r) => r.file)
      ? releases.map((r) => (r.file ? `${r.file}:${r.line}` : `line ${r.line}`)).join(', ')
      : `line${releases.length > 1 ? 's' : ''} ${releases.map((r) => r.line).join(', ')}`;
  const findings = (g.findings ?? []).map((f) => `; finding: ${f.message}`).join('');
  if (g.verdict === 'already-pinned') {
    const rel = [...new Set(g.releases.map((r) => `${r.api}()`))].join(', ');
    return { line: g.line, text: `already-pinned ok: ${names} released with ${rel || 'nothing'} at ${at}${findings}` };
  }
  const transforms = ['acquire', ...g.transforms].join('+');
  const intended = g.differences.length ? `; intended: ${g.differences.join(', ')}` : '';
  const linked = g.linkedWith?.length ? `; linked with ${g.linkedWith.join(', ')}` : '';
  const exported = g.exported ? `; exported ${g.exported.map((n) => `${n}()`).join(', ')}: out-of-tree code that releases these pages itself must change too` : '';
  const renamed = (g.renamed ?? []).map((r) => `; renamed the local ${r.from}() to ${r.to}()`).join('');
  return { line: g.line, text: `converted ${transforms}: ${names} with ${releases.length} release${releases.length === 1 ? '' : 's'} at ${at}${intended}${findings}${linked}${exported}${renamed}` };
}

export function reportLines(file: FileReport): string[] {
  const rows: Array<{ line: number; file?: string; text: string }> = file.groups.map(groupLine);
  for (const d of file.notGup) rows.push({ line: d.line, file: d.file, text: `refused ${d.code}: ${d.message}` });
  rows.sort((a, b) => a.line - b.line);
  return rows.map((r) => `${r.file ?? file.display}:${r.line}: ${r.text}`);
}

function verificationJson(v: GroupVerification | undefined) {
  if (!v) return null;
  return {
    verdict: v.verdict,
    scenarios: v.scenarios,
    differences: v.differences,
    divergence: v.divergence ? { reason: v.divergence.reason, detail: v.divergence.detail, scenario: v.divergence.scenario } : null,
    reason: v.reason ?? null,
    code: v.code ?? null,
    coverage: v.coverage ?? null,
    // A model-fault's scenario and both runs' last lines, as the text output prints them.
    faults: v.faults ?? null,
  };
}

export function reportJson(files: readonly FileReport[], api: TargetApi) {
  return {
    target: { ...api, version: versionLabel(api.version) },
    files: files.map((f) => ({
      path: f.display,
      groups: f.groups.map((g) => ({
        id: g.id,
        line: g.line,
        verdict: g.verdict,
        family: g.family,
        acquires: g.acquires,
        releases: g.releases.map((r) => ({ line: r.line, ...(r.file && { file: r.file }), function: r.function, call: r.call, transform: r.transform })),
        ...(g.files && { files: g.files, linkedWith: g.linkedWith ?? [] }),
        ...(g.exported && { exported: g.exported }),
        escapes: g.escapes,
        ...(g.renamed && { renamed: g.renamed }),
        diagnostics: g.diagnostics,
        differences: g.differences,
        findings: g.findings ?? [],
        verification: verificationJson(f.verification.get(g.id)),
      })),
      notGup: f.notGup,
    })),
    summary: summarize(files),
  };
}
