/**
 * Pin groups: every acquire linked to all of its releases. A group converts all-or-nothing;
 * the hazards found here refuse it whatever the target (target-specific checks live in the
 * planner).
 */
import { isIteratorMacro, type Node, type Tree } from '../parse/kernel-c.ts';
import { CANDIDATE_RE, MAY_RELEASE_RE, ATOMIC_ENTER_RE, ATOMIC_LEAVE_RE } from './api.ts';
import { callName, lineOf, nodeAt } from './ast.ts';
import { findClashes, type LocalApiFunction } from './clash.ts';
import { FileFacts, releasedPage, type AcquireCall, type CallInto, type FnInfo, type ReleaseCall } from './dataflow.ts';
import type { Diagnostic } from './diagnostics.ts';
import { notifierHazards } from './mmu-notifier.ts';
import { structPageOnly } from './struct-page-only.ts';
import { guardedTags } from './tag-guards.ts';
import { uncountedPins } from './uncounted.ts';

export interface PinGroup {
  id: number;
  family: 'gup' | 'pin';
  acquires: AcquireCall[];
  releases: ReleaseCall[];
  /** Target-independent hazards: any of them refuses the group. */
  hazards: Diagnostic[];
  line: number;
  /** Calls of functions defined elsewhere, not modelled, that are handed the group's pages. */
  escapes: CallInto[];
  /** Defects of the original the conversion keeps as they are (reported, not refused). */
  findings: Diagnostic[];
}

export interface FileAnalysis {
  text: string;
  tree: Tree;
  facts: FileFacts;
  groups: PinGroup[];
  /** Releases of pages with no GUP origin in this file (`unparsed`: in code that did not parse). */
  orphans: Array<{ release: ReleaseCall; sources: string[]; unparsed: boolean }>;
  /** API calls that are no site, because the code around them did not parse. */
  unparsedCalls: Diagnostic[];
  /**
   * Releases in atomic context (under a spinlock, or in a function called there), each with the
   * call that made the context atomic (`spin_lock(&pd->lock)`, possibly in a caller).
   */
  atomicReleases: Map<number, Node>;
  /** The page tags each release sees (pageTags()), worked out once. */
  releaseTags: ReadonlyMap<ReleaseCall, string[]>;
  /** Static functions named like the API, renamed if a group converts (src/plan/rename.ts). */
  localApi: LocalApiFunction[];
}

const PAGE_TAG = /^(gup|pin|src|opaque|raw|nocaller):/;
const tagAcquire = (t: string) => {
  const m = /^(gup|pin):(\d+)$/.exec(t);
  return m ? Number(m[2]) : undefined;
};

/** The argument of a release that names the pages. */
export const releasedExpr = (r: ReleaseCall): Node => r.args[r.api.page ?? r.api.array ?? 0];

/** Is `node` guarded by `!is_invalid_reserved_pfn(x)` — raw pfns never reach the release? */
function guardedAgainstRawPfns(node: Node): boolean {
  for (let n = node.parent; n && n.type !== 'function_definition'; n = n.parent)
    if (n.type === 'if_statement' && /!\s*is_invalid_reserved_pfn\s*\(/.test(n.childForFieldName('condition')!.text))
      return true;
  return false;
}

function pageTags(facts: FileFacts, r: ReleaseCall): string[] {
  let tags = [...facts.tagsOf(releasedExpr(r), r.fn)].filter((t) => PAGE_TAG.test(t));
  // pfns of no page (computed, or read from page tables: `pte_pfn()` of a VM_PFNMAP mapping) do
  // not reach a release behind the guard.
  if (guardedAgainstRawPfns(r.call)) tags = tags.filter((t) => t !== 'raw' && !/^opaque:\w*pfn\w*$/.test(t));
  tags = guardedTags(facts, r, releasedPage(r) ?? releasedExpr(r), tags, PAGE_TAG);
  return tags.sort();
}

const describeSource = (t: string) => {
  const [kind, what] = t.split(':');
  switch (kind) {
    case 'src': return `${what}()`;
    case 'opaque': return `the result of ${what}()`;
    case 'raw': return 'a computed value (not a page reference)';
    case 'nocaller': return `a parameter of ${what}(), which has no caller in this file`;
    default: return t;
  }
};

/** A file's byte range in the analysed text (several files joined: see src/link/unit.ts). */
export interface Part {
  start: number;
  end: number;
}

export function analyze(text: string, tree: Tree, parts: readonly Part[] = [{ start: 0, end: text.length }]): FileAnalysis {
  const facts = new FileFacts(tree.rootNode);
  const parent = facts.acquires.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const releaseTags = new Map(facts.releases.map((r) => [r, pageTags(facts, r)]));
  const releaseIds = new Map<ReleaseCall, number[]>();
  const orphans: FileAnalysis['orphans'] = [];
  for (const [r, tags] of releaseTags) {
    const ids = tags.map(tagAcquire).filter((x): x is number => x !== undefined);
    if (!ids.length) {
      orphans.push({ release: r, sources: tags.map(describeSource), unparsed: unparsedAround(r.call) });
      continue;
    }
    releaseIds.set(r, ids);
    for (const id of ids) parent[find(id)] = find(ids[0]);
  }

  const byRoot = new Map<number, PinGroup>();
  for (const a of facts.acquires) {
    const root = find(a.id);
    let g = byRoot.get(root);
    if (!g) byRoot.set(root, (g = { id: 0, family: a.layout.family, acquires: [], releases: [], hazards: [], line: lineOf(a.call), escapes: [], findings: [] }));
    g.acquires.push(a);
  }
  for (const [r, ids] of releaseIds) byRoot.get(find(ids[0]))!.releases.push(r);
  const groups = [...byRoot.values()].sort((a, b) => a.acquires[0].call.startIndex - b.acquires[0].call.startIndex);
  groups.forEach((g, i) => {
    g.id = i + 1;
    g.releases.sort((a, b) => a.call.startIndex - b.call.startIndex);
  });

  // File-wide hazards hold for the groups with a site in that file, reported at each group's own
  // acquire, naming where they come from.
  const localApi: LocalApiFunction[] = [];
  const fileHazards = parts.map((part) => ({ part, hazards: fileLevelHazards(text, tree, facts, part, parts.length > 1, localApi) }));
  const notifier = notifierHazards(text, tree, facts, parts, groups);
  for (const g of groups) {
    const sites = [...g.acquires.map((a) => a.call), ...g.releases.map((r) => r.call)];
    const hit = fileHazards.filter(({ part }) => sites.some((n) => n.startIndex >= part.start && n.startIndex < part.end));
    // Code already on the pin API has nothing to convert, whatever manages its pages (hfi1 and
    // i915 pin the pages their notifiers watch).
    const managed = g.family === 'gup' ? notifier.get(g.id) : undefined;
    if (managed) g.hazards.push(managed);
    g.hazards.push(...hit.flatMap((h) => h.hazards).map((d) => ({ ...d, line: g.line })), ...groupHazards(g, facts, releaseTags));
    g.findings.push(...uncountedPins(g.acquires, facts));
  }
  return { text, tree, facts, groups, orphans, unparsedCalls: unparsedCalls(text, tree, facts), atomicReleases: atomicReleases(facts), localApi, releaseTags };
}

const CANDIDATE_CALLS = new RegExp(CANDIDATE_RE.source, 'g');

/**
 * API calls no acquire or release stands for because tree-sitter could not parse the code
 * around them (an `#ifdef` inside the call, a function swallowed by an ERROR): said, not missed.
 * A mention in clean code that is no call (a prototype, a macro body) stays silent.
 */
function unparsedCalls(text: string, tree: Tree, facts: FileFacts): Diagnostic[] {
  const sites = new Set([...facts.acquires, ...facts.releases].map((s) => s.call.startIndex));
  const out: Diagnostic[] = [];
  for (const m of text.matchAll(CANDIDATE_CALLS)) {
    if (sites.has(m.index)) continue;
    const node = nodeAt(tree.rootNode, m.index);
    if (node.type === 'comment' || !(node.type === 'ERROR' || unparsedAround(node))) continue;
    const name = /^\w+/.exec(m[0])![0];
    out.push({ code: 'parse-error', line: tree.pointAt(m.index).row + 1, message: `${name}() is in code tree-sitter could not parse: left alone` });
  }
  return out;
}

/**
 * Hazards that hold whatever other files say: linking such a group with its partners cannot lift
 * them (a name clash holds for every group with a site in the file; a notifier that manages a
 * group's pages still does with more files around).
 */
export const FILE_HAZARD_CODES: ReadonlySet<string> = new Set(['mmu-notifier', 'name-clash']);

function fileLevelHazards(text: string, tree: Tree, facts: FileFacts, part: Part, linked: boolean, localApi: LocalApiFunction[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const clashes = findClashes(text, tree, facts, part, unparsedAround);
  out.push(...clashes.refusals);
  // The rename is planned for one file: a unit's joined text is several.
  if (!linked) localApi.push(...clashes.renamable);
  else for (const f of clashes.renamable)
    out.push({ code: 'name-clash', line: f.line, message: `this file defines its own static ${f.name}() (line ${f.line}): it is renamed only in a file converted on its own, not with a group linked across files` });
  return out;
}

function groupHazards(g: PinGroup, facts: FileFacts, releaseTags: Map<ReleaseCall, string[]>): Diagnostic[] {
  const out: Diagnostic[] = [];
  // First: in code that did not parse, the other findings are guesses.
  for (const site of [...g.acquires.map((a) => a.call), ...g.releases.map((r) => r.call)]) {
    const fn = facts.functionOf(site);
    if (fn && unparsedAround(site))
      out.push({ code: 'parse-error', line: lineOf(site), message: `could not parse ${fn.name}() cleanly around this site` });
  }
  const ids = new Set(g.acquires.map((a) => a.id));
  const mine = (tags: Iterable<string>) => [...tags].some((t) => ids.has(tagAcquire(t) ?? -1));
  const families = new Set(g.acquires.map((a) => a.layout.family));
  if (families.size > 1)
    out.push({ code: 'mixed-family', line: g.line, message: 'the same releases see pages from get_user_pages*() and from pin_user_pages*()' });
  if (!g.releases.length) {
    const a = g.acquires[0];
    out.push({ code: 'no-release', line: lineOf(a.call), message: `no release of the pages from ${a.name}() in this file: they are released elsewhere` });
  }
  for (const r of g.releases) {
    const other = releaseTags.get(r)!.filter((t) => tagAcquire(t) === undefined);
    if (other.length)
      out.push({ code: 'mixed-provenance', line: lineOf(r.call), message: `${r.name}() here also releases pages from ${other.map(describeSource).join(', ')}` });
    if (g.family === 'pin' && r.api.family === 'get')
      out.push({ code: 'pin-put-mismatch', line: lineOf(r.call), message: `pages pinned with ${g.acquires[0].name}() are released with ${r.name}(): the pin leaks` });
  }
  for (const e of facts.extraRefs) {
    if (e.args[0] && mine(facts.tagsOf(e.args[0], e.fn)))
      out.push({ code: 'extra-ref', line: lineOf(e.call), message: `${e.callee}() takes a second reference on a GUP page: exactly one of its puts would have to become an unpin` });
  }
  const pagesIn = (e: CallInto) =>
    e.args.find((a) => {
      const k = facts.keyOf(a, e.fn);
      return k !== undefined && mine(facts.tagsOfKey(k));
    });
  for (const e of facts.externalCalls) {
    const arg = pagesIn(e);
    if (arg)
      out.push({ code: 'escape', line: lineOf(e.call), message: `the pinned pages ('${arg.text}') are passed to ${e.callee}(), defined elsewhere, which takes over the page reference` });
  }
  // Device mapping, copies and the like only borrow the pages; a put or free may drop them.
  g.escapes = facts.foreignCalls.filter((e) => pagesIn(e));
  for (const e of g.escapes)
    if (MAY_RELEASE_RE.test(e.callee))
      out.push({ code: 'escape', line: lineOf(e.call), message: `the pinned pages ('${pagesIn(e)!.text}') are passed to ${e.callee}(), defined elsewhere, which by its name may drop their reference` });
  out.push(...structPageOnly(g, facts));
  const seen = new Set<string>();
  return out.filter((d) => {
    const k = `${d.code}:${d.line}`;
    return !seen.has(k) && (seen.add(k), true);
  });
}

/**
 * Whether the code holding `site` did not parse: it is inside an ERROR node, or inside a function
 * with an error. Every enclosing function counts: after an unclosed `{`, tree-sitter nests the
 * next functions in the broken one, and they look clean themselves.
 */
function unparsedAround(site: Node): boolean {
  for (let n = site.parent; n; n = n.parent)
    if (n.type === 'ERROR' || (n.type === 'function_definition' && hasRealError(n))) return true;
  return false;
}

const realErrors = new WeakMap<Node, boolean>();

/**
 * Has `node` (or its subtree) a real parse error? See isRealError. Asked of the same function
 * for each of its sites and orphan releases, and of the root for each converted text: scanned once.
 */
export function hasRealError(node: Node): boolean {
  let found = realErrors.get(node);
  if (found === undefined) realErrors.set(node, (found = node.hasError && node.errorNodes().some(isRealError)));
  return found;
}

/** An ERROR node, or a MISSING one other than the `;` tree-sitter wants after an iterator macro. */
export function isRealError(d: Node): boolean {
  return d.type === 'ERROR' || (d.isMissing && !(d.type === ';' && afterIteratorMacro(d)));
}

function afterIteratorMacro(missing: Node): boolean {
  for (let n = missing.parent, i = 0; n && i < 3; n = n.parent, i++) {
    const call = n.type === 'call_expression' ? n : n.type === 'expression_statement' ? n.firstNamedChild : undefined;
    if (call?.type === 'call_expression' && isIteratorMacro(callName(call) ?? '')) return true;
  }
  return false;
}

/**
 * Releases that run in atomic context: lexically between a spin_lock()-style call and its
 * unlock in the same function, or inside a function called from such a place (H8). Each maps
 * to the outermost lock call held there, found first.
 */
function atomicReleases(facts: FileFacts): Map<number, Node> {
  // Per function, its lock (+1) and unlock (-1) calls in document order: found once, asked often.
  const lockCalls = new Map<FnInfo, Array<{ call: Node; step: 1 | -1 }>>();
  const locksOf = (fn: FnInfo) => {
    let calls = lockCalls.get(fn);
    if (!calls) {
      calls = [];
      for (const c of fn.body.descendantsOfType('call_expression')) {
        const name = callName(c) ?? '';
        if (ATOMIC_ENTER_RE.test(name)) calls.push({ call: c, step: 1 });
        else if (ATOMIC_LEAVE_RE.test(name)) calls.push({ call: c, step: -1 });
      }
      lockCalls.set(fn, calls);
    }
    return calls;
  };
  /** The outermost lock still held at `at` in `fn`, if any. */
  const lockAt = (fn: FnInfo, at: number): Node | undefined => {
    const held: Node[] = [];
    for (const c of locksOf(fn)) {
      if (c.call.startIndex >= at) break;
      if (c.step > 0) held.push(c.call);
      else held.pop();
    }
    return held[0];
  };
  const atomicFns = new Map<string, Node>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const c of facts.localCalls) {
      if (atomicFns.has(c.callee)) continue;
      const lock = lockAt(c.fn, c.call.startIndex) ?? atomicFns.get(c.fn.name);
      if (lock) {
        atomicFns.set(c.callee, lock);
        changed = true;
      }
    }
  }
  const out = new Map<number, Node>();
  for (const r of facts.releases) {
    const lock = lockAt(r.fn, r.call.startIndex) ?? atomicFns.get(r.fn.name);
    if (lock) out.set(r.call.id, lock);
  }
  return out;
}
