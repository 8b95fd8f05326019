/**
 * Tag guards: a release under a test that tells GUP pages from others releases only one kind.
 * qib's SDMA fragments record `put_page = 1` beside a pinned page and `put_page = 0` beside a
 * page of its own (`alloc_page()`), and release with
 *
 *   if (frag->put_page) put_page(frag->page); else __free_page(frag->page);
 *
 * Each branch sees only the pages stored with a flag of its truth. The flag and the page are
 * followed together: from the stores into one holder (`pkt->addr[i].put_page = put;
 * pkt->addr[i].page = page;`), through the parameters of the file's functions, to the callers'
 * arguments (`qib_user_sdma_page_to_frags(…, pages[i], 1, …)`). Where a flag's value is not a
 * constant, or a caller is outside the file, nothing is narrowed.
 */
import type { Node } from '../parse/kernel-c.ts';
import { OUTPARAM_SOURCES, PAGE_COPIES } from './api.ts';
import { callArgs, callName, norm, unparen } from './ast.ts';
import type { FileFacts, FnInfo, ReleaseCall } from './dataflow.ts';

/** A page stored with a flag: the flag's truth (undefined: unknown), the page's tags. */
interface Pairing {
  flag: boolean | undefined;
  tags: string[];
}

/** The test a release is under, and the branch it is on. */
interface Guard {
  /** The tested value: a parameter, or a field of the released page's holder. */
  value: Node;
  /** `== C` / `!= C` / `case C:` compare with constants (any of them); plain truth otherwise. */
  equals?: string[];
  /** The release runs when the test is true (then-branch), or false (else-branch). */
  when: boolean;
}

const MAX_DEPTH = 4;

/** The tags of the released page that can reach `release` past the test it is under. */
export function guardedTags(facts: FileFacts, r: ReleaseCall, page: Node, tags: string[], pageTag: RegExp): string[] {
  const guards = guardsOf(facts, r);
  if (!guards) return tags;
  const reach = new Set<string>();
  for (const { guard, fn } of guards) {
    const pairs = pairingsAt(facts, fn, guard, page, pageTag);
    if (!pairs) return tags;
    for (const p of pairs) if (p.flag === undefined || p.flag === guard.when) for (const t of p.tags) reach.add(t);
  }
  return tags.filter((t) => reach.has(t));
}

/**
 * The tests the release is under: in its own function, or, for a static helper with none, at
 * every call of it (`if (bo->type == BO_USER) bo_free_user_pages(bo);`), when each call passes
 * the holder it tests under the name the helper gives it.
 */
function guardsOf(facts: FileFacts, r: ReleaseCall): Array<{ guard: Guard; fn: FnInfo }> | undefined {
  const own = guardOf(r.call);
  if (own) return [{ guard: own, fn: r.fn }];
  const fn = r.fn;
  if (fn.callers === 0 || fn.addressTaken || !fn.isStatic) return undefined;
  const out: Array<{ guard: Guard; fn: FnInfo }> = [];
  for (const c of facts.localCalls) {
    if (c.callee !== fn.name) continue;
    const guard = guardOf(c.call);
    const v = guard && unparen(guard.value);
    if (!guard || v?.type !== 'field_expression') return undefined;
    const holder = norm(v.childForFieldName('argument')!.text);
    const k = fn.params.indexOf(holder);
    if (k < 0 || norm(c.args[k]?.text ?? '') !== holder) return undefined;
    out.push({ guard, fn: c.fn });
  }
  return out.length ? out : undefined;
}

/** The innermost `if` (or `switch` case) whose branch holds `node`, when its test is one gup2pin can follow. */
function guardOf(node: Node): Guard | undefined {
  for (let child = node, n = node.parent; n && n.type !== 'function_definition'; child = n, n = n.parent) {
    if (n.type === 'case_statement') return caseGuard(n);
    if (n.type !== 'if_statement') continue;
    const inThen = n.childForFieldName('consequence')?.id === child.id;
    const inElse = n.childForFieldName('alternative')?.id === child.id;
    if (!inThen && !inElse) continue;
    return test(n.childForFieldName('condition')!, inThen);
  }
  return undefined;
}

/**
 * `case A: case B: … release …` of `switch (x->type)`: the release runs when the value is A or
 * B, or any case before that falls through into it. `default:` is no test gup2pin follows.
 */
function caseGuard(kase: Node): Guard | undefined {
  const body = kase.parent;
  const sw = body?.parent;
  if (body?.type !== 'compound_statement' || sw?.type !== 'switch_statement') return undefined;
  const value = unparen(sw.childForFieldName('condition')!);
  if (value.type !== 'identifier' && value.type !== 'field_expression') return undefined;
  const cases = body.namedChildren.filter((c) => c.type === 'case_statement');
  const equals: string[] = [];
  for (let i = cases.findIndex((c) => c.id === kase.id); i >= 0; i--) {
    const label = cases[i].childForFieldName('value');
    if (!label || !isConstant(label.text)) return undefined;
    equals.push(label.text.trim());
    const prev = cases[i - 1];
    const last = prev?.namedChildren.filter((c) => c.type !== 'comment' && c.id !== prev.childForFieldName('value')?.id).at(-1);
    // The case before ends the way out, or has no statement of its own and falls through.
    if (!prev || (last && /^(break|return|goto|continue)_statement$/.test(last.type))) break;
  }
  return { value, equals, when: true };
}

function test(cond: Node, when: boolean): Guard | undefined {
  const c = unparen(cond);
  if (c.type === 'unary_expression' && c.childForFieldName('operator')?.text === '!') return test(c.childForFieldName('argument')!, !when);
  if (c.type === 'identifier' || c.type === 'field_expression') return { value: c, when };
  if (c.type === 'binary_expression') {
    const op = c.childForFieldName('operator')?.text;
    const left = unparen(c.childForFieldName('left')!);
    const right = c.childForFieldName('right')!.text.trim();
    if ((op === '==' || op === '!=') && (left.type === 'identifier' || left.type === 'field_expression') && isConstant(right))
      return { value: left, equals: [right], when: op === '==' ? when : !when };
  }
  return undefined;
}

const isConstant = (text: string) => /^(-?\d+[uUlL]*|0x[0-9a-fA-F]+|true|false|NULL|[A-Z][A-Z0-9_]*)$/.test(text.trim());

/** The truth of a stored or passed flag value under the guard, if a constant says it. */
function truth(value: string, equals: string[] | undefined): boolean | undefined {
  const v = value.trim();
  if (!isConstant(v)) return undefined;
  if (equals === undefined) return /^(0|false|NULL)$/.test(v) ? false : /^(\d|0x|true)/.test(v) ? true : undefined;
  if (equals.includes(v)) return true;
  // Different enumerators, or different numbers.
  const named = (x: string) => /^[A-Z]/.test(x);
  if (equals.every((e) => named(e) === named(v) && (named(v) || Number(e) !== Number(v)))) return false;
  return undefined;
}

/** Pages with their flags, for the guard's value and the released page in `fn`. */
function pairingsAt(facts: FileFacts, fn: FnInfo, guard: Guard, page: Node, pageTag: RegExp): Pairing[] | undefined {
  const v = unparen(guard.value);
  if (v.type === 'identifier') return fn.params.includes(v.text) ? pairOf(facts, fn, v.text, page, guard.equals, pageTag, 0) : undefined;
  // A field of the page's own holder: every store of the flag beside a store of the page.
  const p = fieldOf(page);
  if (!p || holderOf(p) !== holderOf(v)) return undefined;
  const flagField = v.childForFieldName('field')!.text;
  const pageField = p.childForFieldName('field')!.text;
  // A NULL test of the page itself is no tag; a field written where no store is seen (through
  // its address, by an initializer, by a call that fills it) may hold anything.
  if (flagField === pageField || [flagField, pageField].some((f) => unseenStore(facts, f))) return undefined;
  const out: Pairing[] = [];
  for (const g of facts.functions.values()) {
    const flags = storesInto(facts, g, flagField);
    const pages = storesInto(facts, g, pageField).filter((s) => !s.value || !/^(NULL|0)$/.test(s.value.text.trim()));
    // A page stored with no flag beside it could be under either truth; a flag stored with no
    // page beside it says nothing about the page.
    if (pages.some((s) => !flags.some((f) => f.holder === s.holder))) return undefined;
    for (const f of flags) {
      const beside = pages.filter((s) => s.holder === f.holder);
      if (!beside.length || !f.value) return undefined;
      for (const b of beside) {
        const pairs = b.value ? pairOf(facts, g, f.value.text, b.value, guard.equals, pageTag, 0) : [{ flag: truth(f.value.text, guard.equals), tags: b.tags! }];
        if (!pairs) return undefined;
        out.push(...pairs);
      }
    }
  }
  return out.length ? out : undefined;
}

/** `a->pages` for `a->pages[i]`, `&a->pages[i]`, `a->pages + n`: the field an expression is in. */
function fieldOf(e: Node): Node | undefined {
  let x = unparen(e);
  for (;;) {
    if (x.type === 'subscript_expression' || (x.type === 'pointer_expression' && x.childForFieldName('operator')?.text === '&')) x = unparen(x.childForFieldName('argument')!);
    else if (x.type === 'binary_expression' && /^[+-]$/.test(x.childForFieldName('operator')?.text ?? '')) x = unparen(x.childForFieldName('left')!);
    else break;
  }
  return x.type === 'field_expression' ? x : undefined;
}

const holderOf = (f: Node) => norm(f.childForFieldName('argument')!.text);

/** A store into a field: an assignment's value, or the pages an acquire writes there. */
interface Store {
  holder: string;
  value?: Node;
  tags?: string[];
}

function storesInto(facts: FileFacts, g: FnInfo, field: string): Store[] {
  const out: Store[] = [];
  for (const a of g.body.descendantsOfType('assignment_expression')) {
    if (a.childForFieldName('operator')?.text !== '=') continue;
    const f = fieldOf(a.childForFieldName('left')!);
    if (f?.childForFieldName('field')?.text === field) out.push({ holder: holderOf(f), value: a.childForFieldName('right')! });
  }
  for (const acq of facts.acquires) {
    const f = acq.fn === g ? fieldOf(acq.args[acq.layout.pages]) : undefined;
    if (f?.childForFieldName('field')?.text === field) out.push({ holder: holderOf(f), tags: [`${acq.layout.family}:${acq.id}`] });
  }
  return out;
}

/** Is a field of this name written where no store is seen: through its address (other than by an acquire), by an initializer, or by a call that fills it? */
function unseenStore(facts: FileFacts, field: string): boolean {
  if (facts.root.descendantsOfType('field_designator').some((d) => d.text.replace(/^\./, '').trim() === field)) return true;
  const acquired = new Set(facts.acquires.map((a) => a.args[a.layout.pages]?.id));
  for (const fn of facts.functions.values())
    for (const e of fn.body.descendantsOfType('field_expression')) {
      if (e.childForFieldName('field')?.text !== field) continue;
      let top = e;
      while (top.parent && /^(parenthesized_expression|subscript_expression|pointer_expression|binary_expression)$/.test(top.parent.type)) top = top.parent;
      if (acquired.has(top.id)) continue;
      if (top.id !== e.id && /&/.test(top.text.slice(0, e.startIndex - top.startIndex))) return true;
      const call = top.parent?.type === 'argument_list' ? top.parent.parent : undefined;
      const name = call && callName(call);
      if (!name) continue;
      const args = callArgs(call!);
      const at = args.findIndex((x) => x.id === top.id);
      if (OUTPARAM_SOURCES[name] === at || PAGE_COPIES[name]?.[0] === at) return true;
    }
  return false;
}

/**
 * What the flag and the page `page` of `fn` hold together. The flag is an expression's text in
 * `fn`, or its truth once it was found constant in a callee.
 */
function pairOf(facts: FileFacts, fn: FnInfo, flag: string | { known: boolean | undefined }, page: Node, equals: string[] | undefined, pageTag: RegExp, depth: number): Pairing[] | undefined {
  const tagsOf = (e: Node, of: FnInfo) => [...facts.tagsOf(e, of)].filter((t) => pageTag.test(t));
  const flagParam = typeof flag === 'string' ? fn.params.indexOf(flag.trim()) : -1;
  const known = typeof flag === 'string' ? truth(flag, equals) : flag.known;
  const p = unparen(page);
  const pageParam = p.type === 'identifier' ? fn.params.indexOf(p.text) : -1;
  if (flagParam < 0 && pageParam < 0) return [{ flag: known, tags: tagsOf(page, fn) }];
  // A parameter holds what the callers pass: all of them must be in the file.
  if (depth >= MAX_DEPTH || fn.callers === 0 || fn.addressTaken || !fn.isStatic) return undefined;
  const out: Pairing[] = [];
  for (const c of facts.localCalls) {
    if (c.callee !== fn.name) continue;
    const flagArg = flagParam >= 0 ? c.args[flagParam]?.text : { known };
    const pageArg = pageParam >= 0 ? c.args[pageParam] : undefined;
    if (flagArg === undefined || (pageParam >= 0 && !pageArg)) return undefined;
    // The page is this function's own (not a parameter): only the flag comes from the caller.
    if (!pageArg) {
      out.push({ flag: typeof flagArg === 'string' ? truth(flagArg, equals) : flagArg.known, tags: tagsOf(page, fn) });
      continue;
    }
    const more = pairOf(facts, c.fn, flagArg, pageArg, equals, pageTag, depth + 1);
    if (!more) return undefined;
    out.push(...more);
  }
  return out;
}
