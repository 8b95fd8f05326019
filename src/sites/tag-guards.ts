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
import { norm, unparen } from './ast.ts';
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
  /** `== C` / `!= C` compare with a constant; plain truth otherwise. */
  equals?: string;
  /** The release runs when the test is true (then-branch), or false (else-branch). */
  when: boolean;
}

const MAX_DEPTH = 4;

/** Only a static function's callers are all in the file. */
const isStatic = (fn: FnInfo) => fn.node.children.some((c) => c.type === 'storage_class_specifier' && c.text === 'static');

/** The tags of the released page that can reach `release` past the test it is under. */
export function guardedTags(facts: FileFacts, r: ReleaseCall, page: Node, tags: string[], pageTag: RegExp): string[] {
  const guard = guardOf(r.call);
  if (!guard) return tags;
  const pairs = pairingsAt(facts, r.fn, guard, page, pageTag);
  if (!pairs) return tags;
  const reach = new Set(pairs.filter((p) => p.flag === undefined || p.flag === guard.when).flatMap((p) => p.tags));
  return tags.filter((t) => reach.has(t));
}

/** The innermost `if` whose branch holds `node`, when its test is one gup2pin can follow. */
function guardOf(node: Node): Guard | undefined {
  for (let child = node, n = node.parent; n && n.type !== 'function_definition'; child = n, n = n.parent) {
    if (n.type !== 'if_statement') continue;
    const inThen = n.childForFieldName('consequence')?.id === child.id;
    const inElse = n.childForFieldName('alternative')?.id === child.id;
    if (!inThen && !inElse) continue;
    return test(n.childForFieldName('condition')!, inThen);
  }
  return undefined;
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
      return { value: left, equals: right, when: op === '==' ? when : !when };
  }
  return undefined;
}

const isConstant = (text: string) => /^(-?\d+[uUlL]*|0x[0-9a-fA-F]+|true|false|NULL|[A-Z][A-Z0-9_]*)$/.test(text.trim());

/** The truth of a stored or passed flag value under the guard, if a constant says it. */
function truth(value: string, equals: string | undefined): boolean | undefined {
  const v = value.trim();
  if (!isConstant(v)) return undefined;
  if (equals === undefined) return /^(0|false|NULL)$/.test(v) ? false : /^(\d|0x|true)/.test(v) ? true : undefined;
  if (v === equals) return true;
  // Two different enumerators, or two different numbers.
  const named = (x: string) => /^[A-Z]/.test(x);
  if (named(v) && named(equals)) return false;
  return !named(v) && !named(equals) ? Number(v) === Number(equals) : undefined;
}

/** Pages with their flags, for the guard's value and the released page in `fn`. */
function pairingsAt(facts: FileFacts, fn: FnInfo, guard: Guard, page: Node, pageTag: RegExp): Pairing[] | undefined {
  const v = unparen(guard.value);
  if (v.type === 'identifier') return fn.params.includes(v.text) ? pairOf(facts, fn, v.text, page, guard.equals, pageTag, 0) : undefined;
  // A field of the page's own holder: every store of the flag beside a store of the page.
  const p = unparen(page);
  const holder = (e: Node) => norm(e.childForFieldName('argument')!.text);
  if (p.type !== 'field_expression' || holder(p) !== holder(v)) return undefined;
  const flagField = v.childForFieldName('field')!.text;
  const pageField = p.childForFieldName('field')!.text;
  // A NULL test of the page itself is no tag; a field written through its address (GUP into
  // `&obj->page`) is stored where no flag is seen.
  if (flagField === pageField || [flagField, pageField].some((f) => addressTaken(facts, f) || initialized(facts, f))) return undefined;
  const out: Pairing[] = [];
  for (const g of facts.functions.values()) {
    const stores = g.body.descendantsOfType('assignment_expression').filter((a) => a.childForFieldName('operator')?.text === '=');
    const into = (field: string) =>
      stores.filter((a) => {
        const l = unparen(a.childForFieldName('left')!);
        return l.type === 'field_expression' && l.childForFieldName('field')?.text === field;
      });
    const flags = into(flagField);
    // A page stored with no flag beside it could be under either truth.
    for (const s of into(pageField)) {
      const h = holder(unparen(s.childForFieldName('left')!));
      if (!/^(NULL|0)$/.test(s.childForFieldName('right')!.text.trim()) && !flags.some((f) => holder(unparen(f.childForFieldName('left')!)) === h)) return undefined;
    }
    for (const f of flags) {
      const h = holder(unparen(f.childForFieldName('left')!));
      const beside = into(pageField).find((s) => holder(unparen(s.childForFieldName('left')!)) === h);
      // A flag stored with no page beside it says nothing about the page.
      if (!beside) return undefined;
      const pairs = pairOf(facts, g, f.childForFieldName('right')!.text, beside.childForFieldName('right')!, guard.equals, pageTag, 0);
      if (!pairs) return undefined;
      out.push(...pairs);
    }
  }
  return out.length ? out : undefined;
}

/** Is a field of this name written through its address, or handed to a call as an array to fill? */
function addressTaken(facts: FileFacts, field: string): boolean {
  for (const fn of facts.functions.values())
    for (const e of fn.body.descendantsOfType('field_expression')) {
      if (e.childForFieldName('field')?.text !== field) continue;
      let up = e.parent;
      while (up?.type === 'parenthesized_expression' || up?.type === 'subscript_expression') up = up.parent;
      if (up?.type === 'pointer_expression' && up.childForFieldName('operator')?.text === '&') return true;
      if (up?.type === 'argument_list' && facts.acquires.some((a) => a.args[a.layout.pages]?.id === e.id)) return true;
    }
  return false;
}

/** Is a field of this name set by an initializer (`{ .put_page = 1, … }`), where no store is seen? */
function initialized(facts: FileFacts, field: string): boolean {
  return facts.root.descendantsOfType('field_designator').some((d) => d.text.replace(/^\./, '').trim() === field);
}

/**
 * What the flag and the page `page` of `fn` hold together. The flag is an expression's text in
 * `fn`, or its truth once it was found constant in a callee.
 */
function pairOf(facts: FileFacts, fn: FnInfo, flag: string | { known: boolean | undefined }, page: Node, equals: string | undefined, pageTag: RegExp, depth: number): Pairing[] | undefined {
  const tagsOf = (e: Node, of: FnInfo) => [...facts.tagsOf(e, of)].filter((t) => pageTag.test(t));
  const flagParam = typeof flag === 'string' ? fn.params.indexOf(flag.trim()) : -1;
  const known = typeof flag === 'string' ? truth(flag, equals) : flag.known;
  const p = unparen(page);
  const pageParam = p.type === 'identifier' ? fn.params.indexOf(p.text) : -1;
  if (flagParam < 0 && pageParam < 0) return [{ flag: known, tags: tagsOf(page, fn) }];
  // A parameter holds what the callers pass: all of them must be in the file.
  if (depth >= MAX_DEPTH || fn.callers === 0 || fn.addressTaken || !isStatic(fn)) return undefined;
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
