/**
 * pin_user_pages.rst case 4: a get_user_pages*() caller that only reads struct page metadata
 * (page_to_phys(), page_to_nid(), Page*() tests, ->mapping) and drops the reference before
 * anything reaches the data needs no pin: FOLL_GET is right (sgi-gru's non_atomic_pte_lookup(),
 * iommufd's selftest checks). Refused, so that it stays on get_user_pages*().
 *
 * Conservative: every place any value carrying the group's pages is named must be such a use,
 * the pages must stay in locals of functions only this file calls, and while they are held no
 * call may receive a value read from them (a physical address handed to a device while the page
 * is held is DMA). Anything else leaves the group to the normal rules.
 */
import type { Node } from '../parse/kernel-c.ts';
import { ATOMIC_ENTER_RE, ATOMIC_LEAVE_RE, COMBINATORS, PASS_THROUGH } from './api.ts';
import { callArgs, callName, isStaticDecl, lineOf } from './ast.ts';
import type { FileFacts, FnInfo } from './dataflow.ts';
import type { Diagnostic } from './diagnostics.ts';
import type { PinGroup } from './groups.ts';
import { isDeclared, isMetadataCall, localStore, pageUse } from './page-uses.ts';

/** Calls that cannot hand a value to a device: logging, assertions, locks, arithmetic, frees. */
const HARMLESS = /^(printk|pr_\w+|dev_(err|warn|info|notice|dbg|crit|alert|emerg)\w*|WARN\w*|BUG_ON|BUG|likely|unlikely|IS_ERR|IS_ERR_OR_NULL|PTR_ERR|ERR_PTR|offset_in_page|lower_32_bits|upper_32_bits|IS_ALIGNED|ilog2|order_base_2|mutex_(lock|unlock)\w*|mmap_(read|write)_(lock|unlock)\w*|(down|up)_(read|write)\w*|kfree|kvfree|vfree)$/;
const harmless = (name: string) => HARMLESS.test(name) || COMBINATORS.has(name) || ATOMIC_ENTER_RE.test(name) || ATOMIC_LEAVE_RE.test(name);

export function structPageOnly(g: PinGroup, facts: FileFacts): Diagnostic[] {
  // Releases already on the interim API were moved to tracking on purpose: not ours to undo.
  if (g.family !== 'gup' || !g.releases.length || g.releases.some((r) => r.api.family !== 'get')) return [];
  const ids = new Set(g.acquires.map((a) => `gup:${a.id}`));
  // Every storage the pages reach: locals only (not `static` ones), of functions no other file calls.
  const held = new Map<FnInfo, Set<string>>();
  for (const [key, tags] of facts.provenance()) {
    if (![...tags].some((t) => ids.has(t))) continue;
    const m = /^v:([^:]+):(.+)$/.exec(key);
    const fn = m && facts.functions.get(m[1]);
    if (!fn || (fn.params.includes(m[2]) && (fn.callers === 0 || fn.addressTaken)) || staticLocals(fn).has(m[2])) return [];
    (held.get(fn) ?? held.set(fn, new Set()).get(fn)!).add(m[2]);
  }
  const pageParam = (callee: string, index: number) => {
    const fn = facts.functions.get(callee);
    const p = fn?.params[index];
    return !!p && !!held.get(fn)?.has(p);
  };
  const acquireArg = new Map(g.acquires.map((a) => [a.call.id, a.layout.pages]));
  const releaseArg = new Map(g.releases.map((r) => [r.call.id, r.api.page ?? r.api.array ?? 0]));

  const sources: Node[] = [];
  const named: Array<{ name: string; at: number }> = [];
  const firstUse = new Map<FnInfo, number>();
  for (const [fn, vars] of held) {
    const ctx = {
      fn,
      isAcquire: (c: Node, i: number) => acquireArg.get(c.id) === i,
      isRelease: (c: Node, i: number) => releaseArg.get(c.id) === i,
      isPageParam: pageParam,
    };
    for (const id of fn.node.descendantsOfType('identifier')) {
      if (!vars.has(id.text) || isDeclared(id)) continue;
      const use = pageUse(id, ctx);
      if (use.kind === 'other') return [];
      if (!firstUse.has(fn)) firstUse.set(fn, id.startIndex);
      if (use.kind === 'metadata') {
        sources.push(use.node);
        if (use.name) named.push({ name: use.name, at: use.node.startIndex });
      }
    }
  }
  if (!named.length || !heldWindowsClean(facts, held, firstUse, sources, g)) return [];
  const names = [...new Set(named.sort((a, b) => a.at - b.at).map((n) => n.name))];

  const acquire = g.acquires[0];
  const lines = [...new Set(g.releases.map((r) => lineOf(r.call)))];
  // `line N` each: a linked unit names another file's line as `file:N`.
  const at = `release${lines.length > 1 ? 's' : ''} at ${lines.map((l) => `line ${l}`).join(', ')}`;
  return [{
    code: 'struct-page-only',
    line: g.line,
    message: `${acquire.name}() here only reads page metadata (${names.join(', ')}), never the data (${at}): FOLL_GET is right (pin_user_pages.rst case 4)`,
  }];
}

/** Locals declared `static`: they outlive the call. */
function staticLocals(fn: FnInfo): Set<string> {
  const out = new Set<string>();
  for (const decl of fn.body.descendantsOfType('declaration')) {
    if (!isStaticDecl(decl)) continue;
    for (const d of decl.childrenForFieldName('declarator')) {
      const name = baseName(d);
      if (name) out.add(name);
    }
  }
  return out;
}

/**
 * While the pages are held (in each function: from the acquire or the first use to its last
 * release, or to its end), no call outside the vocabulary receives a value read from them, and
 * none follows a store of such a value outside the function's locals.
 */
function heldWindowsClean(facts: FileFacts, held: Map<FnInfo, Set<string>>, firstUse: Map<FnInfo, number>, sources: Node[], g: PinGroup): boolean {
  const releases = releaseCalls(facts, held, g);
  const exempt = new Set([...g.acquires.map((a) => a.call), ...releases, ...sources].map((n) => n.id));
  const carries = metadataCarriers(facts, new Set(sources.map((s) => s.id)));
  for (const [fn, vars] of held) {
    const start = fn.params.some((p) => vars.has(p))
      ? fn.body.startIndex
      : Math.min(firstUse.get(fn) ?? Infinity, ...g.acquires.filter((a) => a.fn === fn).map((a) => a.call.startIndex));
    const ends = releases.filter((c) => facts.functionOf(c) === fn && c.endIndex > start).map((c) => c.endIndex);
    const end = ends.length ? Math.max(...ends) : fn.node.endIndex;
    const inWindow = (n: Node) => n.startIndex >= start && n.startIndex < end;
    let storedOut = Infinity;
    for (const a of fn.body.descendantsOfType('assignment_expression'))
      if (inWindow(a) && !localStore(a.childForFieldName('left')!, fn) && carries(a.childForFieldName('right')!, fn))
        storedOut = Math.min(storedOut, a.endIndex);
    // Stored where the caller sees it while the pages are still held (a helper filling a
    // descriptor table through its parameter): the value is followed no further.
    if (storedOut !== Infinity && !ends.length) return false;
    for (const c of fn.body.descendantsOfType('call_expression')) {
      const name = callName(c) ?? '';
      if (!inWindow(c) || exempt.has(c.id) || PASS_THROUGH.has(name) || isMetadataCall(name) || harmless(name)) continue;
      if (c.startIndex >= storedOut || callArgs(c).some((a) => carries(a, fn))) return false;
    }
  }
  return true;
}

/**
 * Whether an expression carries a value read from the pages: a metadata read itself, a local
 * assigned one (per function, to a fixpoint), or a call of a function that returns one.
 */
function metadataCarriers(facts: FileFacts, sourceIds: Set<number>): (expr: Node, fn: FnInfo) => boolean {
  const locals = new Map<FnInfo, Set<string>>();
  const returning = new Set<string>();
  const carries = (expr: Node, fn: FnInfo) =>
    expr.descendants().some((d) =>
      sourceIds.has(d.id) ||
      (d.type === 'identifier' && !!locals.get(fn)?.has(d.text)) ||
      (d.type === 'call_expression' && returning.has(callName(d) ?? '')));
  for (let changed = true; changed; ) {
    changed = false;
    for (const fn of facts.functions.values()) {
      for (const n of fn.body.descendantsOfType(['assignment_expression', 'init_declarator', 'return_statement'])) {
        const value = n.type === 'return_statement' ? n.namedChildren[0] : n.childForFieldName(n.type === 'init_declarator' ? 'value' : 'right');
        if (!value || !carries(value, fn)) continue;
        if (n.type === 'return_statement') {
          if (!returning.has(fn.name)) changed = !!returning.add(fn.name);
          continue;
        }
        const target = n.childForFieldName(n.type === 'init_declarator' ? 'declarator' : 'left')!;
        const name = baseName(target);
        if (!name || !fn.names.has(name) || (n.type === 'assignment_expression' && !localStore(target, fn))) continue;
        const set = locals.get(fn) ?? locals.set(fn, new Set()).get(fn)!;
        if (!set.has(name)) changed = !!set.add(name);
      }
    }
  }
  return carries;
}

/** The variable an lvalue or declarator writes: `x`, `a[i]`, `*p`, `*x` (declarator). */
function baseName(n: Node): string | undefined {
  for (let m: Node | null = n; m; ) {
    if (m.type === 'identifier') return m.text;
    m = m.childForFieldName('argument') ?? m.childForFieldName('declarator') ?? (m.type === 'parenthesized_expression' ? m.namedChild(0) : null);
  }
  return undefined;
}

/** The group's releases, and the calls that hand its pages to a function of the file that releases them. */
function releaseCalls(facts: FileFacts, held: Map<FnInfo, Set<string>>, g: PinGroup): Node[] {
  const out = g.releases.map((r) => r.call);
  const releasing = new Set(g.releases.map((r) => r.fn.name));
  const passesPages = (c: (typeof facts.localCalls)[number]) => {
    const callee = facts.functions.get(c.callee)!;
    return c.args.some((_, i) => !!held.get(callee)?.has(callee.params[i]));
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const c of facts.localCalls)
      if (!releasing.has(c.fn.name) && releasing.has(c.callee) && passesPages(c)) changed = !!releasing.add(c.fn.name);
  }
  out.push(...facts.localCalls.filter((c) => releasing.has(c.callee) && passesPages(c)).map((c) => c.call));
  return out;
}
