/** Scan reports: coccicheck-style lines (`file:line: verdict code: reason`) and JSON. */
import { callName, lineOf } from '../sites/ast.ts';
import type { Diagnostic } from '../sites/diagnostics.ts';
import type { GroupResult } from '../plan/plan.ts';
import type { GroupVerification } from '../sim/verdict.ts';
import type { FileResult, RunResult } from '../run.ts';
import { versionLabel, type TargetApi } from '../target.ts';

export interface Summary {
  converted: number;
  refused: number;
  alreadyPinned: number;
  files: number;
}

export function summarize(run: RunResult): Summary {
  const s: Summary = { converted: 0, refused: 0, alreadyPinned: 0, files: run.files.length };
  for (const f of run.files) {
    for (const g of f.plan.groups) {
      if (g.verdict === 'converted') s.converted++;
      else if (g.verdict === 'refused') s.refused++;
      else s.alreadyPinned++;
    }
    s.refused += f.plan.notGup.length;
  }
  return s;
}

export const summaryLine = (s: Summary) =>
  `${s.converted} converted, ${s.refused} refused, ${s.alreadyPinned} already pinned, ${s.files} files`;

function groupLine(g: GroupResult): { line: number; text: string } {
  const acq = g.group.acquires.map((a) => `${a.name}()`);
  const names = [...new Set(acq)].join(', ');
  if (g.verdict === 'refused') {
    const d = g.diagnostics[0];
    const more = g.diagnostics.length > 1 ? ` (+${g.diagnostics.length - 1} more)` : '';
    return { line: d.line, text: `refused ${d.code}: ${d.message}${more}` };
  }
  const releases = g.group.releases.map((r) => lineOf(r.call));
  const at = releases.length ? `line${releases.length > 1 ? 's' : ''} ${releases.join(', ')}` : 'no line';
  if (g.verdict === 'already-pinned') {
    const rel = [...new Set(g.group.releases.map((r) => `${r.name}()`))].join(', ');
    return { line: g.group.line, text: `already-pinned ok: ${names} released with ${rel || 'nothing'} at ${at}` };
  }
  const transforms = ['acquire', ...new Set(g.rewrites.map((r) => r.transform))].join('+');
  const intended = g.differences.length ? `; intended: ${g.differences.join(', ')}` : '';
  return { line: g.group.line, text: `converted ${transforms}: ${names} with ${releases.length} release${releases.length === 1 ? '' : 's'} at ${at}${intended}` };
}

export function reportLines(file: FileResult): string[] {
  const rows: Array<{ line: number; text: string }> = file.plan.groups.map(groupLine);
  for (const d of file.plan.notGup) rows.push({ line: d.line, text: `refused ${d.code}: ${d.message}` });
  rows.sort((a, b) => a.line - b.line);
  return rows.map((r) => `${file.display}:${r.line}: ${r.text}`);
}

const diag = (d: Diagnostic) => ({ code: d.code, line: d.line, message: d.message });

function verificationJson(v: GroupVerification | undefined) {
  if (!v) return null;
  return {
    verdict: v.verdict,
    scenarios: v.scenarios,
    differences: v.differences,
    divergence: v.divergence ? { reason: v.divergence.reason, detail: v.divergence.detail, scenario: v.divergence.scenario } : null,
    reason: v.reason ?? null,
  };
}

export function reportJson(run: RunResult, api: TargetApi) {
  return {
    target: { ...api, version: versionLabel(api.version) },
    files: run.files.map((f) => ({
      path: f.display,
      groups: f.plan.groups.map((g) => ({
        id: g.group.id,
        line: g.group.line,
        verdict: g.verdict,
        family: g.group.family,
        acquires: g.group.acquires.map((a) => ({ line: lineOf(a.call), function: a.fn.name, call: a.name, variant: a.layout.variant })),
        releases: g.group.releases.map((r) => ({
          line: lineOf(r.call),
          function: r.fn.name,
          call: callName(r.call),
          transform: g.rewrites.find((w) => w.line === lineOf(r.call))?.transform ?? null,
        })),
        diagnostics: g.diagnostics.map(diag),
        differences: g.differences,
        verification: verificationJson(f.verification.get(g.group.id)),
      })),
      notGup: f.plan.notGup.map(diag),
    })),
    summary: summarize(run),
  };
}
