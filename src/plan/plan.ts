/**
 * The planner: for one analysed file and one target API, decide each pin group's verdict and
 * produce the byte edits that convert it. Pure: text in, edits and verdicts out.
 */
import MagicString from 'magic-string';
import type { Node } from '../parse/kernel-c.ts';
import { RELEASE_TRANSFORMS, rewriteAcquire, type Edit } from '../../transforms/index.ts';
import { indentAt, lineOf } from '../sites/ast.ts';
import { knownNonNegative } from '../sites/conditions.ts';
import type { FileAnalysis, PinGroup } from '../sites/groups.ts';
import type { FnInfo, ReleaseCall } from '../sites/dataflow.ts';
import type { Diagnostic } from '../sites/diagnostics.ts';
import type { TargetApi } from '../target.ts';
import { planRenames, type Rename } from './rename.ts';
import { judgeAtomic, pinnedSleeps } from './atomic.ts';
import { RenderRefusal, render } from './replacement.ts';
import { isRefusal, type ReleaseContext } from './transform.ts';

export type Verdict = 'converted' | 'refused' | 'already-pinned';

export interface GroupResult {
  group: PinGroup;
  verdict: Verdict;
  diagnostics: Diagnostic[];
  /** Per release: the transform that rewrote it. */
  rewrites: Array<{ line: number; transform: string }>;
  /** Intended behaviour differences of the conversion (H7), by name. */
  differences: string[];
  /** Hazards of the original that the conversion keeps, reported, not refused (sleep-in-atomic). */
  findings?: Diagnostic[];
  edits: Edit[];
  /** The file's own functions renamed with the conversion (H14). */
  renamed?: Rename[];
}

export interface FilePlan {
  groups: GroupResult[];
  /**
   * Refusals outside any pin group: releases of non-GUP pages in shapes a syntactic rewrite would
   * convert (H1), and API calls in code that did not parse (parse-error).
   */
  notGup: Diagnostic[];
  /** Every edit of the file (the groups' and the removal of declarations they left unused): output = applyEdits(text, edits). */
  edits: Edit[];
  output: string;
}

const NEGATIVE_FREE = new Set(['user_pages_fast_only']);

function contextFor(analysis: FileAnalysis, group: PinGroup | undefined): ReleaseContext {
  const { facts } = analysis;
  const ids = new Set(group?.acquires.map((a) => a.id));
  const resultKeys = new Set(
    group?.acquires.filter((a) => !NEGATIVE_FREE.has(a.layout.variant)).map((a) => a.resultKey).filter(Boolean),
  );
  const mayBeNegative = (count: Node, at: Node, fn: FnInfo, depth = 0): boolean => {
    const key = facts.keyOf(count, fn);
    if (!key) return false;
    if (resultKeys.has(key)) return !knownNonNegative(count.text, at);
    // A helper's count parameter may be negative if some caller passes an unchecked result.
    const param = fn.params.findIndex((p) => key === `v:${fn.name}:${p}`);
    if (param < 0 || depth > 4) return false;
    return facts.localCalls.some((c) => c.callee === fn.name && c.args[param] && mayBeNegative(c.args[param], c.call, c.fn, depth + 1));
  };
  return {
    text: analysis.text,
    facts,
    isPinnedCount: (count, fn) => {
      if (!group) return true;
      return [...facts.tagsOf(count, fn)].some((t) => /^cnt:\d+$/.test(t) && ids.has(Number(t.slice(4))));
    },
    mayBeNegative: (count, at, fn) => mayBeNegative(count, at, fn),
  };
}

/**
 * A release call without the page, array or count argument (code that does not compile) fits no
 * shape. (The dirty flag may be missing: 5.3's put_user_pages_dirty_lock() took none.)
 */
const missingArgs = ({ api, args }: ReleaseCall) => [api.page, api.array, api.count].some((i) => i !== undefined && !args[i]);

function matchRelease(rel: ReleaseCall, ctx: ReleaseContext) {
  if (missingArgs(rel)) return undefined;
  for (const t of RELEASE_TRANSFORMS) {
    const r = t.match(rel, ctx);
    if (r) return r;
  }
  return undefined;
}

export interface Policy {
  /** The file is core kernel code whose GUP users stay on FOLL_GET unless asked (H9). */
  core: boolean;
  /** Groups refused from outside the planner (the simulator found them not equivalent, a header's function hands their pages out). */
  forced?: ReadonlyMap<number, Diagnostic[]>;
  /** The file as shown: its name names a renamed local function (src/plan/rename.ts). */
  file?: string;
}

/** The policy with more groups refused from outside the planner (a group's reasons add up). */
export function withForced(policy: Policy, more: ReadonlyMap<number, Diagnostic[]>): Policy {
  if (!more.size) return policy;
  const forced = new Map(policy.forced);
  for (const [id, ds] of more) forced.set(id, [...(forced.get(id) ?? []), ...ds]);
  return { ...policy, forced };
}

export function planFile(analysis: FileAnalysis, api: TargetApi, policy: Policy = { core: false }): FilePlan {
  const renaming = planRenames(analysis, policy.file);
  const clashes = 'refusals' in renaming ? renaming.refusals : [];
  const planned = analysis.groups.map((g) => planGroup(analysis, g, api, policy, clashes));
  const groups = planned.map((p) => p.result);
  const edits = groups.flatMap((r) => r.edits);
  edits.push(...removeUnusedDeclarations(analysis, planned.flatMap((p) => p.unused), edits));
  const converted = groups.filter((g) => g.verdict === 'converted');
  // The file's own functions named like the API make way, with the conversion only.
  if ('renames' in renaming && renaming.renames.length && converted.length) {
    const inside = renaming.edits.find((r) => edits.some((e) => r.start < e.end && e.start < r.end));
    if (inside) {
      const name = analysis.text.slice(inside.start, inside.end);
      const message = `the conversion rewrites line ${lineAt(analysis.text, inside.start)}, which uses this file's own ${name}(): it is not renamed, and it would capture the converted calls`;
      const forced = new Map(policy.forced);
      for (const g of converted) forced.set(g.group.id, [{ code: 'name-clash', line: g.group.line, message }]);
      return planFile(analysis, api, { ...policy, forced });
    }
    edits.push(...renaming.edits, ...renaming.realign.filter((r) => !edits.some((e) => r.start < e.end && e.start < r.end)));
    for (const g of converted) g.renamed = renaming.renames;
  }
  return { groups, notGup: notGupReports(analysis), edits, output: applyEdits(analysis.text, edits) };
}

const lineAt = (text: string, index: number) => text.slice(0, index).split('\n').length;

interface Unused {
  fn: FnInfo;
  name: string;
}

function planGroup(analysis: FileAnalysis, group: PinGroup, api: TargetApi, policy: Policy, clashes: Diagnostic[]): { result: GroupResult; unused: Unused[] } {
  const base = { group, rewrites: [], differences: [], edits: [] };
  const refuse = (diagnostics: Diagnostic[]) => ({ result: { ...base, verdict: 'refused' as const, diagnostics }, unused: [] });
  const unchanged = (findings: Diagnostic[] = []) => ({ result: { ...base, verdict: 'already-pinned' as const, diagnostics: [], findings }, unused: [] });
  // A refusal from outside the planner comes first: it says why the hazards found here stand.
  const forced = policy.forced?.get(group.id);
  // A local function that cannot be renamed is a hazard of every group (the analysis found it).
  const hazards = [...group.hazards, ...clashes.map((d) => ({ ...d, line: group.line }))];
  if (forced) return refuse([...forced, ...hazards]);
  if (hazards.length) return refuse(hazards);
  if (group.family === 'pin') return unchanged([...group.findings, ...pinnedSleeps(group, analysis.atomicReleases)]);
  if (policy.core)
    return refuse([{ code: 'core-kernel', line: group.line, message: 'core kernel users were left on FOLL_GET upstream (pin_user_pages.rst cases 3–4): pass --core to convert' }]);

  const ctx = contextFor(analysis, group);
  const edits: Edit[] = [];
  const rewrites: GroupResult['rewrites'] = [];
  const differences = new Set<string>();
  const findings: Diagnostic[] = [...group.findings];
  const unused: Unused[] = [];
  for (const rel of group.releases) {
    const line = lineOf(rel.call);
    if (rel.api.family === 'pin')
      return refuse([{ code: 'mixed-family', line, message: `pages from ${group.acquires[0].name}() (FOLL_GET) are released with ${rel.name}(): the count underflows` }]);
    let m = matchRelease(rel, ctx);
    if (!m) return refuse([{ code: 'unsupported-release', line, message: `${rel.name}() here is not in a shape gup2pin can rewrite` }]);
    if (isRefusal(m)) return refuse([{ code: m.refuse, line, message: m.message }]);
    const lock = analysis.atomicReleases.get(rel.call.id);
    if (lock) {
      const judged = judgeAtomic(rel, m, lock);
      if ('refuse' in judged) return refuse([judged.refuse]);
      m = judged.match;
      if (judged.finding && !findings.some((f) => f.message === judged.finding!.message)) findings.push(judged.finding);
    }
    const indent = indentAt(analysis.text, m.replacement.start);
    const text = render(m.replacement, api, indent);
    if (text instanceof RenderRefusal) return refuse([{ code: 'target-api', line, message: text.message }]);
    if (text !== analysis.text.slice(m.replacement.start, m.replacement.end))
      edits.push({ start: m.replacement.start, end: m.replacement.end, text });
    rewrites.push({ line, transform: m.transform });
    for (const d of m.differences ?? []) differences.add(d);
    for (const name of m.maybeUnused ?? []) unused.push({ fn: rel.fn, name });
  }
  for (const acq of group.acquires) {
    const r = rewriteAcquire(acq, api, analysis.text);
    if (isRefusal(r)) return refuse([{ code: r.refuse, line: lineOf(acq.call), message: r.message }]);
    // An acquire already in the target's form (get_user_pages*() on an interim target) is no edit.
    edits.push(...r.filter((e) => e.text !== analysis.text.slice(e.start, e.end)));
  }
  if (!edits.length) return unchanged(findings);
  return { result: { group, verdict: 'converted', diagnostics: [], rewrites, differences: [...differences], findings, edits }, unused };
}

/**
 * Non-GUP releases shaped like convertible ones (the false positives of a syntactic rewrite), and
 * calls left alone because their code did not parse.
 */
function notGupReports(analysis: FileAnalysis): Diagnostic[] {
  const ctx = contextFor(analysis, undefined);
  const out: Diagnostic[] = [];
  for (const { release, sources, unparsed } of analysis.orphans) {
    if (release.api.family !== 'get') continue;
    const m = matchRelease(release, ctx);
    if (!m || isRefusal(m)) continue;
    if (m.replacement.kind === 'single' && !m.replacement.dirty) continue;
    if (unparsed) {
      out.push({ code: 'parse-error', line: lineOf(release.call), message: `${release.name}() is in code tree-sitter could not parse: where its pages come from is unknown, left alone` });
      continue;
    }
    const from = sources.length ? `pages from ${[...new Set(sources)].join(', ')}` : 'pages of unknown origin';
    out.push({ code: 'not-gup', line: lineOf(release.call), message: `${release.name}() releases ${from}, not from get_user_pages*(): left alone` });
  }
  out.push(...analysis.unparsedCalls);
  return out.sort((x, y) => x.line - y.line);
}

/** Declarations of variables whose every use was inside replaced code. */
function removeUnusedDeclarations(analysis: FileAnalysis, unused: Unused[], edits: Edit[]): Edit[] {
  const text = analysis.text;
  const inEdit = (n: Node) => edits.some((e) => n.startIndex >= e.start && n.endIndex <= e.end);
  const out: Edit[] = [];
  const done = new Set<string>();
  for (const { fn, name } of unused) {
    const id = `${fn.name}:${name}`;
    if (done.has(id) || fn.params.includes(name)) continue;
    done.add(id);
    let declarator: Node | undefined;
    let live = false;
    for (const ident of fn.body.descendantsOfType('identifier')) {
      if (ident.text !== name || inEdit(ident)) continue;
      const d = declaratorOf(ident);
      if (d && !declarator) declarator = d;
      else live = true;
    }
    if (live || !declarator) continue;
    const decl = declarator.parent!;
    if (decl.type !== 'declaration') continue;
    const value = declarator.type === 'init_declarator' ? declarator.childForFieldName('value') : null;
    if (value && value.descendantsOfType('call_expression').length) continue;
    const all = decl.childrenForFieldName('declarator');
    if (all.length > 1) {
      const i = all.findIndex((d) => d.id === declarator!.id);
      out.push(i === 0
        ? { start: declarator.startIndex, end: all[1].startIndex, text: '' }
        : { start: all[i - 1].endIndex, end: declarator.endIndex, text: '' });
      continue;
    }
    const start = text.lastIndexOf('\n', decl.startIndex - 1) + 1;
    let end = text.indexOf('\n', decl.endIndex) + 1;
    // A blank line left right after the opening brace goes too (checkpatch: no blank line
    // after an open brace).
    const prevLineEnd = start - 1;
    const prevLine = text.slice(text.lastIndexOf('\n', prevLineEnd - 1) + 1, prevLineEnd);
    if (/^\s*\{\s*$/.test(prevLine) && /^[ \t]*\n/.test(text.slice(end))) end = text.indexOf('\n', end) + 1;
    out.push({ start, end, text: '' });
  }
  return out;
}

/** The declarator (init_declarator or identifier directly in a declaration) naming `ident`. */
function declaratorOf(ident: Node): Node | undefined {
  let n: Node = ident;
  while (n.parent && /^(pointer_declarator|array_declarator|parenthesized_declarator)$/.test(n.parent.type)) n = n.parent;
  const p = n.parent;
  if (p?.type === 'init_declarator' && p.childForFieldName('declarator')?.id === n.id) return p;
  if (p?.type === 'declaration' && p.childrenForFieldName('declarator').some((d) => d.id === n.id)) return n;
  return undefined;
}

export function applyEdits(text: string, edits: Edit[]): string {
  if (!edits.length) return text;
  const s = new MagicString(text);
  for (const e of [...edits].sort((a, b) => a.start - b.start)) {
    if (e.start === e.end) s.appendLeft(e.start, e.text);
    else if (e.text === '') s.remove(e.start, e.end);
    else s.overwrite(e.start, e.end, e.text);
  }
  return s.toString();
}
