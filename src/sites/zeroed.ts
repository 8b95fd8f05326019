/**
 * Is every slot of a page array that no acquire filled provably NULL? A release loop that tests
 * each slot for NULL and walks the requested count (drm/via, H5) releases exactly the pinned
 * pages only then: the array came zeroed (kcalloc, kzalloc, kvcalloc, vzalloc, __GFP_ZERO,
 * memset(…, 0, …), a stack array `= {}`), and nothing writes into it but GUP and NULL stores.
 *
 * Flow-insensitive over the storage keys of dataflow.ts, like the provenance: the array is the
 * set of keys its pointer is copied between (locals, fields by name, parameters of the file's
 * functions, return values), and every write to any of them anywhere in the file must be one of
 * those. What it cannot see (a caller outside the file, a callee given the array) disproves it.
 */
import type { Node } from '../parse/kernel-c.ts';
import { ACQUIRE_NAMES, ARRAY_ALLOCATORS, ARRAY_FREES, PAGE_COPIES, RELEASE_APIS, acquireLayout, zeroingAllocation } from './api.ts';
import { callArgs, callName, lineOf, unparen } from './ast.ts';
import type { FileFacts, FnInfo } from './dataflow.ts';

/** Calls that only read the array (besides the frees, ARRAY_FREES). */
const READERS = new Set(['vmap', 'vm_map_ram']);

const isNull = (e: Node): boolean => {
  const x = unparen(e);
  return x.type === 'cast_expression' ? isNull(x.childForFieldName('value')!) : /^(NULL|0)$/.test(x.text.trim());
};

/** `ERR_PTR(-ENOMEM)` returned for the array: an error the callers test, no array. */
const isErrPtr = (e: Node) => unparen(e).type === 'call_expression' && callName(unparen(e)) === 'ERR_PTR';

/** `{}`, `{ NULL }`, `{ 0 }`: C zero-fills what an initializer list leaves out. */
const zeroList = (list: Node) => list.namedChildren.every((c) => c.type === 'comment' || isNull(c));

/** An element access (`a[i]`, `*p`): a value read from the array or a slot written, not the array. */
const isElement = (e: Node) => {
  const x = unparen(e);
  return x.type === 'subscript_expression' || (x.type === 'pointer_expression' && x.childForFieldName('operator')?.text === '*');
};

interface Site {
  fn: FnInfo;
  node: Node;
}

/** Nodes that write a value somewhere (only these of a function body are visited: not every node). */
const WRITES = ['assignment_expression', 'init_declarator', 'return_statement'];
const WRITES_AND_CALLS = [...WRITES, 'declaration', 'update_expression', 'call_expression'];

/** Why the slots of `array` past the pinned count may not be NULL; undefined when they are. */
export function whyNotZeroed(facts: FileFacts, array: Node, fn: FnInfo): string | undefined {
  const name = `'${array.text}'`;
  const start = pointerKey(facts, array, fn);
  if (!start) return `${name} is not a page array gup2pin can follow`;
  const fns = [...facts.functions.values()];
  const keys = aliases(facts, fns, start);
  let origin: Site | undefined;
  for (const f of fns) {
    for (const node of f.body.descendantsOfType(WRITES_AND_CALLS)) {
      const site = { fn: f, node };
      const at = `(line ${lineOf(node)})`;
      if (WRITES.includes(node.type)) {
        const w = write(facts, f, node);
        if (!w.key || !keys.has(w.key)) continue;
        const verdict = judgeWrite(facts, site, w, keys);
        if (verdict === 'origin') origin ??= site;
        else if (verdict) return verdict.replace('$array', name).replace('$at', at);
      }
      if (node.type === 'declaration') {
        for (const d of node.childrenForFieldName('declarator')) {
          const { id, array: isArray } = declared(d);
          if (!isArray || !id || !keys.has(`v:${f.name}:${id}`)) continue;
          if (memsetAfter(facts, site, keys)) origin ??= site;
          else return `'${id}' is a stack array without an initializer ${at}`;
        }
      }
      if (node.type === 'update_expression' && isElement(node.childForFieldName('argument')!)) {
        const k = facts.keyOf(node.childForFieldName('argument'), f);
        if (k && keys.has(k)) return `'${node.text}' changes a slot ${at}`;
      }
      if (node.type === 'call_expression') {
        const why = callWrites(facts, f, node, keys);
        if (why) return `${why} ${at}`;
      }
    }
  }
  // A parameter holds what its callers pass: the file's callers were followed above, where
  // the argument is an array they name.
  for (const c of facts.localCalls) {
    const callee = facts.functions.get(c.callee)!;
    const i = c.args.findIndex((arg, k) => keys.has(`v:${callee.name}:${callee.params[k]}`) && !isNull(arg) && !pointerKey(facts, arg, c.fn));
    if (i >= 0) return `'${c.args[i].text}' is passed to ${callee.name}() as '${callee.params[i]}' (line ${lineOf(c.call)})`;
  }
  for (const key of keys) {
    const m = /^v:([^:]+):(.+)$/.exec(key);
    const owner = m && facts.functions.get(m[1]);
    if (owner?.params.includes(m![2]) && (owner.callers === 0 || owner.addressTaken))
      return `${name} comes from a parameter of ${owner.name}(), which code outside this file may call`;
  }
  return origin ? undefined : `no zeroing allocation of ${name} in this file`;
}

/**
 * A store into the array's keys: a slot may only be cleared; the array pointer may be cleared,
 * copied from the array, or be a zeroed allocation ('origin'). Else why not, `$array` and `$at`
 * standing for the array's name and the line.
 */
function judgeWrite(facts: FileFacts, site: Site, { lhs, value }: Write, keys: Set<string>): string | 'origin' | undefined {
  const { node, fn } = site;
  if (lhs && isElement(lhs)) return !value || !isNull(value) ? `'${lhs.text}' is also assigned ${value ? `'${value.text}'` : 'a value'} $at` : undefined;
  if (!value || isNull(value) || isErrPtr(value)) return undefined;
  // `pages += got` moves along the same array.
  if (node.type === 'assignment_expression' && node.childForFieldName('operator')?.text !== '=') return undefined;
  if (value.type === 'initializer_list') return zeroList(value) ? 'origin' : '$array is initialised with values $at';
  const v = unparen(value);
  const alloc = v.type === 'call_expression' ? callName(v) : undefined;
  if (alloc && ARRAY_ALLOCATORS.has(alloc))
    return zeroingAllocation(alloc, callArgs(v).map((a) => a.text)) || memsetAfter(facts, site, keys) ? 'origin' : `$array comes from ${alloc}() $at, which does not zero it`;
  const from = pointerKey(facts, v, fn);
  return from && keys.has(from) ? undefined : `$array is also assigned '${value.text}' $at`;
}

/** The key of the array an expression points into, when its value is an address, not an element. */
function pointerKey(facts: FileFacts, e: Node, fn: FnInfo): string | undefined {
  const x = unparen(e);
  switch (x.type) {
    case 'identifier':
    case 'field_expression':
      return facts.keyOf(x, fn);
    case 'cast_expression':
      return pointerKey(facts, x.childForFieldName('value')!, fn);
    case 'binary_expression':
      return /^[+-]$/.test(x.childForFieldName('operator')?.text ?? '') ? pointerKey(facts, x.childForFieldName('left')!, fn) : undefined;
    case 'pointer_expression':
      // `&a[i]` points into `a`; `&pages` lets the callee replace the array itself.
      return x.childForFieldName('operator')?.text === '&' ? facts.keyOf(x.childForFieldName('argument'), fn) : undefined;
    case 'call_expression': {
      const name = callName(x);
      return name && facts.functions.has(name) ? `r:${name}` : undefined;
    }
    default:
      return undefined;
  }
}

interface Write {
  /** The lvalue assigned, if the write is an assignment. */
  lhs?: Node;
  key?: string;
  value?: Node;
}

/** What a write stores where: an assignment, an initialised declaration, a return value. */
function write(facts: FileFacts, fn: FnInfo, node: Node): Write {
  if (node.type === 'assignment_expression') {
    const lhs = node.childForFieldName('left')!;
    return { lhs, key: facts.keyOf(lhs, fn), value: node.childForFieldName('right') ?? undefined };
  }
  if (node.type === 'return_statement') {
    const value = node.namedChildren.find((c) => c.type !== 'comment');
    return { key: `r:${fn.name}`, value };
  }
  const { id } = declared(node.childForFieldName('declarator')!);
  return { key: id && `v:${fn.name}:${id}`, value: node.childForFieldName('value') ?? undefined };
}

/** The name a declarator declares, and whether it declares an array (`*pages[8]`). */
function declared(decl: Node): { id?: string; array: boolean } {
  let array = false;
  let d: Node | null = decl;
  while (d && d.type !== 'identifier') {
    if (d.type === 'array_declarator') array = true;
    // An initialised declarator is no array declaration without an initializer.
    if (d.type === 'init_declarator') return { array: false };
    d = d.childForFieldName('declarator') ?? (d.type === 'parenthesized_declarator' ? d.namedChild(0) : null);
  }
  return { id: d?.text, array };
}

/** The keys the array's pointer is copied between, starting from `start`. */
function aliases(facts: FileFacts, fns: FnInfo[], start: string): Set<string> {
  const edges = new Map<string, string[]>();
  const link = (a: string | undefined, b: string | undefined) => {
    if (!a || !b || a === b) return;
    (edges.get(a) ?? edges.set(a, []).get(a)!).push(b);
    (edges.get(b) ?? edges.set(b, []).get(b)!).push(a);
  };
  for (const f of fns) {
    for (const node of f.body.descendantsOfType(WRITES)) {
      const { lhs, key, value } = write(facts, f, node);
      if (value && !(lhs && isElement(lhs))) link(key, pointerKey(facts, value, f));
    }
  }
  for (const c of facts.localCalls) {
    const callee = facts.functions.get(c.callee)!;
    c.args.forEach((arg, i) => callee.params[i] && link(pointerKey(facts, arg, c.fn), `v:${callee.name}:${callee.params[i]}`));
  }
  // A field reached through a holder of unknown type may be any struct's field of its name.
  const neighbours = (k: string) => [...(edges.get(k) ?? []), ...facts.sameField(k)];
  const keys = new Set([start]);
  for (const work = [start]; work.length; )
    for (const next of neighbours(work.pop()!)) if (!keys.has(next)) keys.add(next), work.push(next);
  return keys;
}

/** Does the function zero the array (`memset(a, 0, …)`) after `site`, before GUP fills it? */
function memsetAfter(facts: FileFacts, site: Site, keys: Set<string>): boolean {
  const mine = (a: Node | undefined) => {
    const k = a && pointerKey(facts, a, site.fn);
    return !!k && keys.has(k);
  };
  for (const c of site.fn.body.descendantsOfType('call_expression')) {
    if (c.startIndex < site.node.endIndex) continue;
    const name = callName(c) ?? '';
    const args = callArgs(c);
    if (name === 'memset' && mine(args[0]) && args[1] && isNull(args[1])) return true;
    const layout = ACQUIRE_NAMES.has(name) ? acquireLayout(name, args) : undefined;
    if (layout && mine(args[layout.pages])) return false;
  }
  return false;
}

/** Why a call may write into the array; undefined for a fill by GUP, a zeroing, a free or a read. */
function callWrites(facts: FileFacts, fn: FnInfo, call: Node, keys: Set<string>): string | undefined {
  const name = callName(call) ?? '';
  const args = callArgs(call);
  const mine = (a: Node | undefined) => {
    const k = a && pointerKey(facts, a, fn);
    return !!k && keys.has(k);
  };
  if (ACQUIRE_NAMES.has(name)) {
    // GUP fills the array; it is also the one writer the proof is about.
    const layout = acquireLayout(name, args);
    return args.some((a, i) => i !== layout?.pages && mine(a)) ? `the array is passed to ${name}() as another argument` : undefined;
  }
  if (name === 'memset') return mine(args[0]) && !(args[1] && isNull(args[1])) ? `memset() fills '${args[0].text}' with '${args[1]?.text}'` : undefined;
  if (ARRAY_FREES.has(name) || READERS.has(name) || name in RELEASE_APIS || facts.functions.has(name)) return undefined;
  const copy = PAGE_COPIES[name];
  const to = args.findIndex((a, i) => mine(a) && (!copy || i === copy[0]));
  if (to < 0) return undefined;
  return `'${args[to].text}' is passed to ${name}(), which may write into it`;
}
