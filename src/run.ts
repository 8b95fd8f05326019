/**
 * The runner: paths → per-file results. Owns the file system reads; everything after the read
 * (parse, analyse, plan) is pure, so diff/apply/scan are three views of one plan.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { CANDIDATE_RE, walk, type WalkProblem } from './discover/walk.ts';
import { parseC } from './parse/kernel-c.ts';
import { planFile, type FilePlan, type Policy } from './plan/plan.ts';
import { planVerified } from './sim/index.ts';
import type { GroupVerification } from './sim/verdict.ts';
import { analyze, type FileAnalysis } from './sites/groups.ts';
import type { TargetApi } from './target.ts';

export interface FileResult {
  /** Absolute path. */
  path: string;
  /** Path as shown to the user (relative to --root). */
  display: string;
  original: string;
  plan: FilePlan;
  /** Simulator verdict per pin group id (empty with --no-verify). */
  verification: Map<number, GroupVerification>;
  analysis: FileAnalysis;
}

export interface RunResult {
  files: FileResult[];
  problems: WalkProblem[];
}

const MAX_BYTES = 8 << 20;

export interface RunOptions {
  /** Convert core-kernel users too (H9): off by default. */
  core?: boolean;
  /** Simulate every conversion and refuse those that are not equivalent: on by default. */
  verify?: boolean;
}

/**
 * Core kernel code (mm/, kernel/, fs/, ipc/, security/) that upstream deliberately left on
 * FOLL_GET — futex, uprobes, exec, __access_remote_vm — is a policy decision, not a mechanical
 * one (H9): it converts only with --core.
 */
const CORE_DIR_RE = /(^|[/\\])(mm|kernel|fs|ipc|security)[/\\]/;

export function run(paths: string[], api: TargetApi, root: string, options: RunOptions = {}): RunResult {
  const { files, problems } = walk(paths);
  const results: FileResult[] = [];
  for (const path of files) {
    const display = relative(root, path) || path;
    let text: string;
    try {
      const buf = readFileSync(path);
      if (buf.length > MAX_BYTES) {
        // Generated register headers are huge and never call GUP: only mention real candidates.
        if (CANDIDATE_RE.test(buf.toString('latin1'))) problems.push({ path: display, reason: `larger than ${MAX_BYTES >> 20} MiB: skipped` });
        continue;
      }
      if (buf.includes(0)) continue; // binary, not C
      text = buf.toString('utf8');
    } catch (e) {
      problems.push({ path: display, reason: `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
      continue;
    }
    if (!CANDIDATE_RE.test(text)) continue;
    let result;
    try {
      result = processText(text, api, { core: !options.core && CORE_DIR_RE.test(display) }, { verify: options.verify ?? true });
    } catch (e) {
      // A bug of ours must cost one file, never the run (and never a half-written file).
      problems.push({ path: display, reason: `internal error, file left alone: ${(e as Error).message}` });
      continue;
    }
    if (result.plan.groups.length || result.plan.notGup.length) results.push({ path, display, original: text, ...result });
  }
  return { files: results, problems };
}

/** Parse and analyse one C text. */
export function analyzeText(text: string): FileAnalysis {
  return analyze(text, parseC(text));
}

export function processText(
  text: string,
  api: TargetApi,
  policy: Policy = { core: false },
  options: { verify?: boolean } = {},
): { plan: FilePlan; verification: Map<number, GroupVerification>; analysis: FileAnalysis } {
  const analysis = analyzeText(text);
  if (options.verify) return { ...planVerified(analysis, api, policy), analysis };
  return { plan: planFile(analysis, api, policy), verification: new Map(), analysis };
}
