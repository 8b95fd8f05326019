/**
 * Where do the pages released here come from? A flow-insensitive, file-wide provenance
 * analysis over *storage keys*:
 *
 *   v:<fn>:<name>   a local or parameter of one function
 *   g:<name>        a file-scope or unknown identifier
 *   f:<field>       a struct field, whatever the struct (conservative: same name, same bucket)
 *   r:<fn>          the return value of a function of this file
 *
 * Indexing, dereference, address-of and pointer arithmetic keep the key (`pages + got`,
 * `&page`, `page[0]` all name the storage of `page`/`pages`). Tags say what a key may hold:
 *
 *   gup:N / pin:N   pages referenced by acquire site N (FOLL_GET / FOLL_PIN)
 *   cnt:N           a count tied to acquire site N (its result or requested count)
 *   src:<fn>        pages from a non-GUP source (alloc_page, find_get_page, iov_iter, …)
 *   opaque:<fn>     the result of a call we cannot see into
 *   raw             a value computed by arithmetic (e.g. a PFNMAP pfn): not a page reference
 *   nocaller:<fn>   a parameter of a function with no caller in this file
 *
 * Calls to functions of the same file bind each argument to its parameter, so a release helper
 * sees the union of what every caller passes (a mixed-provenance helper shows both kinds); a
 * parameter the callee stores into also flows back, so an acquire wrapper fills its caller's
 * array. Arithmetic other than +/- yields `raw` and passes on only count tags.
 */
import type { Node } from '../parse/kernel-c.ts';
import { macroLoopAt } from '../parse/kernel-c.ts';
import {
  ACQUIRE_NAMES, ADDRESS_OF_PAGE, EMITTED_NAMES, ARRAY_ALLOCATORS, PAGE_OF_ADDRESS, COMBINATORS, ITERATOR_ALIASES, OUTPARAM_SOURCES, PAGE_COPIES, PASS_THROUGH,
  OWNERSHIP_TAKING, RELEASE_APIS, RVALUE_SOURCES, ARRAY_FREES, DIRTY_CALLS, acquireLayout,
  type AcquireLayout, type ReleaseApi,
} from './api.ts';
import { callArgs, callName, counterBumps, enclosingLoop, forBound, isStaticDecl, norm, unparen } from './ast.ts';

export interface FnInfo {
  name: string;
  node: Node;
  body: Node;
  params: string[];
  names: Set<string>;
  /** Declared type of each local/parameter, e.g. 'struct page **'. */
  types: Map<string, string>;
  callers: number;
  addressTaken: boolean;
  /** Defined `static`: the file's own, whatever a header declares under the same name. */
  isStatic: boolean;
}

export interface AcquireCall {
  id: number;
  call: Node;
  fn: FnInfo;
  name: string;
  layout: AcquireLayout;
  args: Node[];
  /** Key of the variable assigned the call's result, when there is one. */
  resultKey?: string;
}

export interface ReleaseCall {
  call: Node;
  fn: FnInfo;
  name: string;
  api: ReleaseApi;
  args: Node[];
}

/** Calls whose effect on a page (or its array) the analysis knows: none of them is an escape. */
const MODELLED_CALLS = new Set([
  ...Object.keys(DIRTY_CALLS), ...PASS_THROUGH, ...ADDRESS_OF_PAGE, ...PAGE_OF_ADDRESS, ...Object.keys(ITERATOR_ALIASES),
  ...ARRAY_ALLOCATORS, ...ARRAY_FREES, ...COMBINATORS,
]);

/** `i` in `for (i = 0; …; …)` / `for (int i = 0; …)`. */
function forIndex(loop: Node): string | undefined {
  const init = loop.childForFieldName('initializer');
  const assign = init?.type === 'declaration' ? init.childForFieldName('declarator') : init;
  const lhs = assign?.type === 'init_declarator' ? assign.childForFieldName('declarator') : assign?.childForFieldName('left');
  return lhs?.type === 'identifier' ? norm(lhs.text) : undefined;
}

/** Macros whose second argument is the type of what they return. */
const CONTAINER_OF = new Set(['container_of', 'list_entry', 'list_first_entry', 'list_last_entry', 'list_first_entry_or_null', 'hlist_entry', 'rb_entry']);

/** `foo` in `struct foo *`, `const struct foo`. */
export const structName = (type: string | undefined) => (type ? /^(?:const\s+|volatile\s+)*struct\s+(\w+)/.exec(type)?.[1] : undefined);

/** `x` in `(cast)x` or `(x)`. */
function uncast(node: Node): Node {
  let n = unparen(node);
  while (n.type === 'cast_expression') n = unparen(n.childForFieldName('value')!);
  return n;
}

/**
 * The page a single-page release drops, as written: `p` in `put_page(p)`, `__free_page(p)`,
 * `free_page((unsigned long)page_address(p))`, `folio_put(page_folio(p))`; undefined when the
 * argument does not name it (a folio or an address kept in a variable).
 */
export function releasedPage(r: Pick<ReleaseCall, 'api' | 'args'>): Node | undefined {
  const arg = r.api.page === undefined ? undefined : r.args[r.api.page];
  if (!arg || !r.api.of) return arg;
  const inner = uncast(arg);
  if (inner.type !== 'call_expression' || callName(inner) !== r.api.of) return undefined;
  return callArgs(inner)[0];
}

export interface CallInto {
  call: Node;
  fn: FnInfo;
  callee: string;
  args: Node[];
}

interface Rvalue {
  keys: string[];
  /** Operands of arithmetic: they size things (counts) but hold no page reference. */
  countKeys: string[];
  tags: string[];
}

const CONSTANT_IDS = new Set(['NULL', 'true', 'false']);

/** The nodes of a function body that move values (see collect): only these are visited. */
const FLOW_NODES = ['init_declarator', 'initializer_pair', 'assignment_expression', 'return_statement', 'expression_statement', 'call_expression'];

export class FileFacts {
  readonly functions = new Map<string, FnInfo>();
  readonly acquires: AcquireCall[] = [];
  readonly releases: ReleaseCall[] = [];
  readonly extraRefs: CallInto[] = [];
  /** Calls to functions known to take over a page reference (skb, bio, page cache). */
  readonly externalCalls: CallInto[] = [];
  /** Calls to functions defined in this file. */
  readonly localCalls: CallInto[] = [];
  /** Calls to functions defined elsewhere that nothing here models (dma_map_page(), …). */
  readonly foreignCalls: CallInto[] = [];
  private readonly edges = new Map<string, Set<string>>();
  /** Edges that carry only count tags (`cnt:N`). */
  private readonly countEdges = new Map<string, Set<string>>();
  private readonly countSeeds = new Map<string, Set<string>>();
  /** Keys stored into by the code itself (not only by a caller's argument). */
  private readonly written = new Set<string>();
  /** Of those, keys stored a value (not NULL or 0) into: an output, not only cleared. */
  private readonly filled = new Set<string>();
  private readonly bindings: Array<{ param: string; arg: string }> = [];
  private readonly seeds = new Map<string, Set<string>>();
  private prov?: Map<string, Set<string>>;
  /** Field types per struct defined in the file: `struct mthca_db_table` → `page` → `struct mthca_db_page *`. */
  private readonly structFields = new Map<string, Map<string, string>>();
  /** Types of file-scope variables. */
  private readonly globalTypes = new Map<string, string>();
  /** Field names accessed through a holder of unknown struct type, and the typed keys of each field name. */
  private readonly untypedFields = new Set<string>();
  /** `typedef struct foo {…} Foo;` and `typedef struct {…} Foo;`: Foo → the struct's name. */
  private readonly typedefs = new Map<string, string>();
  private readonly typedFields = new Map<string, Set<string>>();

  constructor(readonly root: Node) {
    this.collectTypes(root);
    for (const def of root.descendantsOfType('function_definition')) {
      const info = describeFunction(def);
      if (info && !this.functions.has(info.name)) this.functions.set(info.name, info);
    }
    for (const id of root.descendantsOfType('identifier', (name) => this.functions.has(name))) {
      const fn = this.functions.get(id.text)!;
      const p = id.parent;
      if (p?.type === 'call_expression' && p.childForFieldName('function')?.id === id.id) fn.callers++;
      else if (p?.type !== 'function_declarator') fn.addressTaken = true;
    }
    // Acquires first: assignments of their results are tagged while collecting flows.
    for (const fn of this.functions.values()) this.collectAcquires(fn);
    for (const fn of this.functions.values()) this.collect(fn);
    this.bindOutputParameters();
    this.bridgeUntypedFields();
    // What an outside caller passes is unknown, except in an array the function fills itself
    // (an ops callback's `phys_pfn[]`, an acquire helper's `pages`): that is its output.
    for (const fn of this.functions.values()) {
      if (fn.callers > 0 && !fn.addressTaken) continue;
      for (const p of fn.params) {
        const key = `v:${fn.name}:${p}`;
        if (!(this.filled.has(key) && isArrayType(fn.types.get(p)))) this.seed(key, `nocaller:${fn.name}`);
      }
    }
  }

  /** Storage key of an lvalue-ish expression, or undefined for values with no storage. */
  keyOf(expr: Node | null | undefined, fn: FnInfo | undefined): string | undefined {
    if (!expr) return undefined;
    const e = unparen(expr);
    switch (e.type) {
      case 'identifier':
        if (CONSTANT_IDS.has(e.text)) return undefined;
        return fn?.names.has(e.text) ? `v:${fn.name}:${e.text}` : `g:${e.text}`;
      case 'field_expression': {
        const field = e.childForFieldName('field')?.text ?? '?';
        // `table.sgl` is the table's scatterlist: the same pages as the table.
        if (field === 'sgl') return this.keyOf(e.childForFieldName('argument'), fn);
        // A field is storage of its struct type: `chunk->mem` of an allocated chunk and
        // `db->page[i].mem` of a GUP table are different stores of one name.
        return this.fieldKey(this.structOf(this.typeText(e.childForFieldName('argument'), fn)), field);
      }
      case 'subscript_expression':
      case 'pointer_expression':
      case 'update_expression':
        return this.keyOf(e.childForFieldName('argument'), fn);
      case 'cast_expression':
        return this.keyOf(e.childForFieldName('value'), fn);
      case 'binary_expression': {
        const op = e.childForFieldName('operator')?.text;
        if (op === '+' || op === '-') return this.keyOf(e.childForFieldName('left'), fn);
        return undefined;
      }
      case 'call_expression': {
        const name = callName(e);
        if (name && PASS_THROUGH.has(name)) {
          const a = callArgs(e)[0];
          return a ? this.keyOf(a, fn) : undefined;
        }
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /** The struct a type names: `struct foo *`, or a typedef of the file (`Sg_scatter_hold *`). */
  private structOf(type: string | undefined): string | undefined {
    const named = structName(type);
    if (named || !type) return named;
    const alias = /^(?:const\s+|volatile\s+)*(\w+)/.exec(type)?.[1];
    return alias ? this.typedefs.get(alias) : undefined;
  }

  /** The key of a struct's field (`f:S.field`), or of a field of unknown struct (`f:field`). */
  private fieldKey(struct: string | undefined, field: string): string {
    if (!struct) {
      this.untypedFields.add(field);
      return `f:${field}`;
    }
    const key = `f:${struct}.${field}`;
    (this.typedFields.get(field) ?? this.typedFields.set(field, new Set()).get(field)!).add(key);
    return key;
  }

  /**
   * `{ .page = p, .put_page = 1 }` in a declaration or a compound literal stores `p` in the field
   * like an assignment would.
   */
  private flowDesignated(pair: Node, fn: FnInfo) {
    const field = pair.childrenForFieldName('designator').find((d) => d.type === 'field_designator');
    const value = pair.childForFieldName('value');
    const list = pair.parent;
    if (!field || !value || list?.type !== 'initializer_list') return;
    const owner = list.parent;
    const type =
      owner?.type === 'compound_literal_expression'
        ? owner.childForFieldName('type')?.text
        : owner?.type === 'init_declarator'
          ? fn.types.get(declaredName(owner.childForFieldName('declarator')!) ?? '')
          : undefined;
    this.flowInto(this.fieldKey(this.structOf(type), field.text.replace(/^\./, '').trim()), value, fn);
  }

  /** The declared type of an expression, as far as the file says (for the struct of a field). */
  private typeText(expr: Node | null | undefined, fn: FnInfo | undefined): string | undefined {
    if (!expr) return undefined;
    const e = unparen(expr);
    switch (e.type) {
      case 'identifier':
        return fn?.types.get(e.text) ?? this.globalTypes.get(e.text);
      case 'field_expression': {
        const struct = this.structOf(this.typeText(e.childForFieldName('argument'), fn));
        const field = e.childForFieldName('field')?.text;
        return struct && field ? this.structFields.get(struct)?.get(field) : undefined;
      }
      // `*p`, `&x`, `a[i]`: the same struct, one pointer more or less.
      case 'pointer_expression':
      case 'subscript_expression':
        return this.typeText(e.childForFieldName('argument'), fn);
      case 'cast_expression':
        return e.childForFieldName('type')?.text;
      case 'call_expression': {
        const name = callName(e);
        const args = callArgs(e);
        // container_of(ptr, type, member), list_entry(), list_first_entry(head, type, member).
        if (name && CONTAINER_OF.has(name)) return args[1]?.text;
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /** Struct definitions' field types, and file-scope variables' types. */
  private collectTypes(root: Node) {
    for (const spec of root.descendantsOfType('struct_specifier')) {
      const name = spec.childForFieldName('name')?.text;
      if (name && spec.childForFieldName('body')) this.collectStruct(name, spec);
    }
    for (const def of root.descendantsOfType('type_definition')) {
      const spec = def.childForFieldName('type');
      if (spec?.type !== 'struct_specifier') continue;
      for (const d of def.childrenForFieldName('declarator')) {
        if (d.type !== 'type_identifier') continue;
        // An anonymous struct is known by its typedef's name.
        const name = spec.childForFieldName('name')?.text ?? d.text;
        if (!spec.childForFieldName('name') && spec.childForFieldName('body')) this.collectStruct(name, spec);
        this.typedefs.set(d.text, name);
      }
    }
    for (const decl of root.namedChildren) {
      if (decl.type !== 'declaration') continue;
      for (const d of decl.childrenForFieldName('declarator')) {
        const n = declaredName(d);
        if (n) this.globalTypes.set(n, typeOf(decl.childForFieldName('type'), d.type === 'init_declarator' ? d.childForFieldName('declarator')! : d));
      }
    }
  }

  /**
   * The fields of struct `name`. An anonymous struct member (`struct { … } page[];`) is a struct
   * of its own, named after its place (`mthca_user_db_table__page`).
   */
  private collectStruct(name: string, spec: Node) {
    const fields = this.structFields.get(name) ?? this.structFields.set(name, new Map()).get(name)!;
    for (const decl of spec.childForFieldName('body')!.namedChildren) {
      if (decl.type !== 'field_declaration') continue;
      const type = decl.childForFieldName('type');
      for (const d of decl.childrenForFieldName('declarator')) {
        const n = declaredFieldName(d);
        if (!n) continue;
        const inner = type?.type === 'struct_specifier' && !type.childForFieldName('name') && type.childForFieldName('body') ? `${name}__${n}` : undefined;
        if (inner) this.collectStruct(inner, type!);
        fields.set(n, inner ? `struct ${inner} ${typeOf(null, d).replace(/^\?\s*/, '')}`.trim() : typeOf(type, d));
      }
    }
  }

  /**
   * A field read or written through a holder of unknown type may be any struct's field of that
   * name: it is joined with all of them (both ways), as if the type did not count.
   */
  private bridgeUntypedFields() {
    for (const field of this.untypedFields) for (const key of this.typedFields.get(field) ?? []) this.alias(`f:${field}`, key);
  }

  /** What an expression's value may derive from. */
  private rvalue(expr: Node | null | undefined, fn: FnInfo): Rvalue {
    const out: Rvalue = { keys: [], countKeys: [], tags: [] };
    if (!expr) return out;
    const e = unparen(expr);
    const add = (r: Rvalue) => {
      out.keys.push(...r.keys);
      out.countKeys.push(...r.countKeys);
      out.tags.push(...r.tags);
    };
    switch (e.type) {
      case 'identifier':
      case 'field_expression':
      case 'subscript_expression':
      case 'update_expression':
      case 'pointer_expression': {
        const k = this.keyOf(e, fn);
        if (k) out.keys.push(k);
        return out;
      }
      case 'cast_expression':
        return this.rvalue(e.childForFieldName('value'), fn);
      case 'assignment_expression':
        return this.rvalue(e.childForFieldName('right'), fn);
      case 'conditional_expression':
        add(this.rvalue(e.childForFieldName('consequence'), fn));
        add(this.rvalue(e.childForFieldName('alternative'), fn));
        return out;
      case 'comma_expression':
        return this.rvalue(e.childForFieldName('right'), fn);
      case 'binary_expression': {
        const op = e.childForFieldName('operator')?.text ?? '';
        if (/^(==|!=|<|>|<=|>=|&&|\|\|)$/.test(op)) return out;
        const left = this.rvalue(e.childForFieldName('left'), fn);
        const right = this.rvalue(e.childForFieldName('right'), fn);
        if (op === '+' || op === '-') {
          // Pointer arithmetic keeps the storage; count arithmetic keeps the count. Beside a
          // pointer, the right operand is an offset: it adds no reference (`va + (gpa & mask)`).
          add(left);
          if (left.keys.length || left.tags.some((t) => !t.startsWith('cnt:') && t !== 'raw')) {
            out.countKeys.push(...right.keys, ...right.countKeys);
            out.tags.push(...right.tags.filter((t) => t.startsWith('cnt:')));
          } else add(right);
          return out;
        }
        for (const r of [left, right]) {
          out.countKeys.push(...r.keys, ...r.countKeys);
          out.tags.push(...r.tags.filter((t) => t.startsWith('cnt:')));
        }
        out.tags.push('raw');
        return out;
      }
      case 'unary_expression': {
        if (e.childForFieldName('operator')?.text === '!') return out;
        return this.rvalue(e.childForFieldName('argument'), fn);
      }
      case 'call_expression': {
        const name = callName(e) ?? '?';
        const args = callArgs(e);
        const acq = this.acquires.find((a) => a.call.id === e.id);
        if (acq) out.tags.push(`cnt:${acq.id}`);
        else if (PAGE_OF_ADDRESS.has(name)) {
          const arg = args[0] && this.rvalue(args[0], fn);
          if (arg?.keys.length) return arg;
          out.tags.push(`src:${name}`);
        } else if (ADDRESS_OF_PAGE.has(name)) return args[0] ? this.rvalue(args[0], fn) : out;
        else if (RVALUE_SOURCES.has(name)) out.tags.push(`src:${name}`);
        else if (ARRAY_ALLOCATORS.has(name)) return out;
        // An error pointer is no page: callers test IS_ERR() before they use what they got.
        else if (name === 'ERR_PTR' || name === 'ERR_CAST') return out;
        else if (PASS_THROUGH.has(name)) return args[0] ? this.rvalue(args[0], fn) : out;
        else if (COMBINATORS.has(name)) for (const a of args) add(this.rvalue(a, fn));
        else if (this.functions.has(name)) out.keys.push(`r:${name}`);
        else out.tags.push(`opaque:${name}`);
        return out;
      }
      default:
        return out;
    }
  }

  private edge(from: string, to: string, map = this.edges) {
    if (from === to) return;
    let s = map.get(from);
    if (!s) map.set(from, (s = new Set()));
    s.add(to);
  }

  private countSeed(key: string, tag: string) {
    let s = this.countSeeds.get(key);
    if (!s) this.countSeeds.set(key, (s = new Set()));
    s.add(tag);
  }

  private seed(key: string, tag: string) {
    this.written.add(key);
    this.filled.add(key);
    let s = this.seeds.get(key);
    if (!s) this.seeds.set(key, (s = new Set()));
    s.add(tag);
  }

  /**
   * `value` flows into `key`. `fromCaller`: an argument bound to a parameter; `rebind`: the
   * parameter variable itself assigned (`page = NULL;`), which the caller never sees. Neither
   * makes the key an output.
   */
  private flowInto(key: string | undefined, value: Node | null, fn: FnInfo, fromCaller = false, rebind = false) {
    if (!key || !value) return;
    const own = !fromCaller && !rebind;
    if (own) this.written.add(key);
    const r = this.rvalue(value, fn);
    if (own && (r.keys.length || r.tags.length)) this.filled.add(key);
    for (const k of r.keys) this.edge(k, key);
    for (const k of r.countKeys) this.edge(k, key, this.countEdges);
    for (const t of r.tags) this.seed(key, t);
  }

  /**
   * Pointer copies of containers (`sg = table->sgl`, `p = pages`) alias storage: what is
   * stored through one is seen through the other. Copies of one page pointer do not.
   */
  private aliasIfContainer(lhs: Node, value: Node, fn: FnInfo) {
    const name = unparen(lhs).type === 'identifier' ? lhs.text.trim() : undefined;
    const type = name && fn.types.get(name);
    if (!type || !isContainerType(type)) return;
    const lkey = this.keyOf(lhs, fn);
    const vkey = this.keyOf(value, fn);
    if (lkey && vkey && ['identifier', 'field_expression', 'pointer_expression', 'subscript_expression', 'binary_expression'].includes(unparen(value).type))
      this.edge(lkey, vkey);
  }

  private alias(a: string | undefined, b: string | undefined) {
    if (!a || !b) return;
    this.edge(a, b);
    this.edge(b, a);
  }

  private collect(fn: FnInfo) {
    for (const node of fn.body.descendantsOfType(FLOW_NODES)) {
      switch (node.type) {
        case 'init_declarator': {
          const name = declaredName(node.childForFieldName('declarator')!);
          const value = node.childForFieldName('value');
          if (name && value && value.type !== 'initializer_list') {
            this.flowInto(`v:${fn.name}:${name}`, value, fn);
            this.aliasIfContainer(declaratorIdentifier(node.childForFieldName('declarator')!) ?? node, value, fn);
          }
          break;
        }
        case 'initializer_pair':
          this.flowDesignated(node, fn);
          break;
        case 'assignment_expression': {
          const left = unparen(node.childForFieldName('left')!);
          const rebind = left.type === 'identifier' && fn.params.includes(left.text);
          this.flowInto(this.keyOf(left, fn), node.childForFieldName('right'), fn, false, rebind);
          if (node.childForFieldName('operator')?.text === '=')
            this.aliasIfContainer(node.childForFieldName('left')!, node.childForFieldName('right')!, fn);
          break;
        }
        case 'return_statement': {
          const value = node.namedChildren.find((c) => c.type !== 'comment');
          if (value) this.flowInto(`r:${fn.name}`, value, fn);
          break;
        }
        case 'expression_statement': {
          const loop = macroLoopAt(node);
          const alias = loop && ITERATOR_ALIASES[loop.name];
          if (loop && alias) {
            const args = callArgs(loop.call);
            this.alias(this.keyOf(args[alias[0]], fn), this.keyOf(args[alias[1]], fn));
          }
          break;
        }
        case 'call_expression':
          this.collectCall(node, fn);
          break;
      }
    }
  }

  /**
   * A call of an API name the file defines itself as a static function calls that function (a
   * driver's own `pin_user_pages()`, H14): it is a local call, not the mm API.
   */
  private isLocalApi(name: string): boolean {
    return EMITTED_NAMES.has(name) && !!this.functions.get(name)?.isStatic;
  }

  private collectAcquires(fn: FnInfo) {
    for (const call of fn.body.descendantsOfType('call_expression')) {
      const name = callName(call);
      if (!name || !ACQUIRE_NAMES.has(name) || this.isLocalApi(name) || !this.owns(fn, call)) continue;
      const args = callArgs(call);
      const layout = acquireLayout(name, args);
      if (!layout) continue;
      const pages = args[layout.pages];
      // No pages array: the call only faults pages in and takes no reference (H10).
      if (!pages || /^(NULL|0)$/.test(pages.text.trim())) continue;
      const id = this.acquires.length;
      this.acquires.push({ id, call, fn, name, layout, args, resultKey: this.resultKeyOf(call, fn) });
      this.seed(this.keyOf(pages, fn) ?? `?:${id}`, `${layout.family}:${id}`);
      const count = this.rvalue(args[layout.count], fn);
      for (const k of [...count.keys, ...count.countKeys]) this.countSeed(k, `cnt:${id}`);
      for (const k of this.pinCounters(call, args[layout.count], fn)) this.countSeed(k, `cnt:${id}`);
    }
  }

  /**
   * Variables that count the pins of an acquire in a loop: one bumped (`n++`, `n += 1`) after
   * the acquire in the loop's body counts the iterations that got that far, so that pins are
   * released over `[0, n)`; and when each iteration pins one page, the loop's index and bound
   * (`for (i = 0; i < npages; i++)`) count them as the requested count does.
   */
  private pinCounters(call: Node, count: Node | undefined, fn: FnInfo): string[] {
    const loop = enclosingLoop(call);
    if (!loop || loop.kind === 'macro') return [];
    const out: string[] = [];
    const index = loop.kind === 'for' ? forIndex(loop.node) : undefined;
    if (index && count?.text.trim() === '1') {
      out.push(`v:${fn.name}:${index}`);
      const bound = forBound(loop, index);
      if (bound) out.push(...this.rvalue(bound, fn).keys);
    }
    for (const { counter } of counterBumps(loop.body, call)) {
      const key = ['identifier', 'field_expression'].includes(unparen(counter).type) ? this.keyOf(counter, fn) : undefined;
      if (key && unparen(counter).text !== index) out.push(key);
    }
    return out;
  }

  /** The variable that directly receives an acquire's return value (`ret = gup(…)`). */
  private resultKeyOf(call: Node, fn: FnInfo): string | undefined {
    let p = call.parent;
    while (p?.type === 'parenthesized_expression' || p?.type === 'cast_expression') p = p.parent;
    if (p?.type === 'assignment_expression' && p.childForFieldName('operator')?.text === '=')
      return this.keyOf(p.childForFieldName('left')!, fn);
    if (p?.type === 'init_declarator') {
      const name = declaredName(p.childForFieldName('declarator')!);
      return name ? `v:${fn.name}:${name}` : undefined;
    }
    return undefined;
  }

  private collectCall(call: Node, fn: FnInfo) {
    const name = callName(call);
    if (!name || (ACQUIRE_NAMES.has(name) && !this.isLocalApi(name))) return;
    const args = callArgs(call);
    const rel = this.isLocalApi(name) ? undefined : RELEASE_APIS[name];
    // free_page() frees any kernel memory (often the page array itself): it drops a page's
    // reference only when handed the page's own address.
    if (rel && !(rel.of === 'page_address' && !releasedPage({ api: rel, args }))) {
      if (this.owns(fn, call)) this.releases.push({ call, fn, name, api: rel, args });
      return;
    }
    if (name === 'get_page' || name === 'try_get_page' || name === 'page_ref_inc') {
      if (this.owns(fn, call)) this.extraRefs.push({ call, fn, callee: name, args });
      return;
    }
    const copy = PAGE_COPIES[name];
    if (copy && args[copy[0]] && args[copy[1]]) {
      this.flowInto(this.keyOf(args[copy[0]], fn), args[copy[1]], fn);
      return;
    }
    const out = OUTPARAM_SOURCES[name];
    if (out !== undefined && args[out]) {
      const k = this.keyOf(args[out], fn);
      if (k) this.seed(k, `src:${name}`);
      return;
    }
    const callee = this.functions.get(name);
    if (callee) {
      this.localCalls.push({ call, fn, callee: name, args });
      args.forEach((arg, i) => {
        const param = callee.params[i];
        if (!param) return;
        const pkey = `v:${callee.name}:${param}`;
        this.flowInto(pkey, arg, fn, true);
        const akey = this.keyOf(arg, fn);
        if (akey) this.bindings.push({ param: pkey, arg: akey });
      });
      return;
    }
    if (OWNERSHIP_TAKING.has(name)) this.externalCalls.push({ call, fn, callee: name, args });
    else if (!MODELLED_CALLS.has(name)) this.foreignCalls.push({ call, fn, callee: name, args });
  }

  /**
   * Output parameters: what a callee stores through a parameter reaches the caller's storage
   * (an acquire wrapper fills its caller's array). Parameters the callee only reads get no
   * back-flow, so two callers passing different arrays to a reader stay apart.
   */
  private bindOutputParameters() {
    const done = new Set<number>();
    for (let changed = true; changed; ) {
      changed = false;
      this.bindings.forEach((b, i) => {
        if (done.has(i) || !this.written.has(b.param)) return;
        done.add(i);
        this.edge(b.param, b.arg);
        this.written.add(b.arg);
        if (this.filled.has(b.param)) this.filled.add(b.arg);
        changed = true;
      });
    }
  }

  /** Solved provenance: key → tags. */
  provenance(): Map<string, Set<string>> {
    if (this.prov) return this.prov;
    // A count is also carried by what it was computed from (`n = size >> PAGE_SHIFT` makes
    // `size` a count too), a few steps back: the bound of a release elsewhere is often
    // recomputed from the same field.
    const back = new Map<string, string[]>();
    for (const map of [this.edges, this.countEdges])
      for (const [from, tos] of map) for (const to of tos) (back.get(to) ?? back.set(to, []).get(to)!).push(from);
    for (const [k, tags] of this.countSeeds) {
      let frontier = [k];
      for (let depth = 0; depth <= 3 && frontier.length; depth++) {
        const next: string[] = [];
        for (const f of frontier) {
          for (const t of tags) this.seed(f, t);
          next.push(...(back.get(f) ?? []).filter((b) => !b.startsWith('g:')));
        }
        frontier = next;
      }
    }
    const prov = new Map<string, Set<string>>();
    const work: string[] = [];
    for (const [k, tags] of this.seeds) {
      prov.set(k, new Set(tags));
      work.push(k);
    }
    while (work.length) {
      const k = work.pop()!;
      const tags = prov.get(k)!;
      for (const [map, only] of [[this.edges, undefined], [this.countEdges, 'cnt:']] as const) {
        for (const to of map.get(k) ?? []) {
          let dst = prov.get(to);
          if (!dst) prov.set(to, (dst = new Set()));
          const before = dst.size;
          for (const t of tags) if (!only || t.startsWith(only)) dst.add(t);
          if (dst.size !== before) work.push(to);
        }
      }
    }
    return (this.prov = prov);
  }

  /** Tags an expression's value may carry. */
  tagsOf(expr: Node, fn: FnInfo): Set<string> {
    const r = this.rvalue(expr, fn);
    const out = new Set(r.tags);
    for (const k of r.keys) for (const t of this.tagsOfKey(k)) out.add(t);
    return out;
  }

  /**
   * The other keys a field key may be the same storage as: for a field reached through a holder
   * of unknown type, that field of every struct; for a struct's field, the untyped one.
   */
  sameField(key: string): string[] {
    if (!key.startsWith('f:')) return [];
    const dot = key.indexOf('.');
    const field = dot < 0 ? key.slice(2) : key.slice(dot + 1);
    if (dot >= 0) return this.untypedFields.has(field) ? [`f:${field}`] : [];
    return [...(this.typedFields.get(field) ?? [])];
  }

  tagsOfKey(key: string): Set<string> {
    const prov = this.provenance();
    const own = prov.get(key);
    if (own || !key.startsWith('f:')) return own ?? new Set();
    // A field key the solved graph never met (first asked for now): whatever a field of that
    // name holds in any struct.
    const field = key.slice(2).split('.').pop()!;
    const out = new Set<string>();
    for (const k of [`f:${field}`, ...(this.typedFields.get(field) ?? [])]) for (const t of prov.get(k) ?? []) out.add(t);
    return out;
  }

  /**
   * Whether `node` is `fn`'s own code, not that of a function tree-sitter nested in it (after an
   * unclosed `{`): a site belongs to one function, or it would make two pin groups.
   */
  private owns(fn: FnInfo, node: Node): boolean {
    return this.functionOf(node) === fn;
  }

  functionOf(node: Node): FnInfo | undefined {
    for (let n: Node | null = node; n; n = n.parent) {
      if (n.type === 'function_definition') {
        const name = functionName(n);
        return name ? this.functions.get(name) : undefined;
      }
    }
    return undefined;
  }
}

/** A pointer to elements (`struct page **`, `unsigned long *`): a parameter that can be an output array. */
const isArrayType = (type: string | undefined) => !!type && /\*\s*$/.test(type.replace(/\s+/g, ' ').trim()) && !/^struct page \*$/.test(type.replace(/\s+/g, ' ').trim());

/** Types whose pointers address storage of page pointers rather than one page. */
function isContainerType(type: string): boolean {
  const t = type.replace(/\s+/g, ' ').trim();
  return /^struct (scatterlist|sg_table|sg_append_table)\b/.test(t) || /^struct page \*\*/.test(t);
}

function declaratorIdentifier(decl: Node): Node | undefined {
  let d: Node | null = decl;
  while (d && d.type !== 'identifier') d = d.childForFieldName('declarator');
  return d ?? undefined;
}

/** `struct page **` for declarator `**p` of type `struct page`. */
function typeOf(typeNode: Node | null, decl: Node): string {
  let stars = '';
  for (let d: Node | null = decl; d && d.type !== 'identifier'; d = d.childForFieldName('declarator'))
    if (d.type === 'pointer_declarator' || d.type === 'array_declarator') stars += '*';
  return `${typeNode?.text ?? '?'} ${stars}`.trim();
}

/** The name a field declarator declares (`*pages`, `page[]`). */
function declaredFieldName(decl: Node): string | undefined {
  let d: Node | null = decl;
  while (d && d.type !== 'field_identifier' && d.type !== 'identifier') d = d.childForFieldName('declarator');
  return d?.text;
}

function declaredName(decl: Node): string | undefined {
  let d: Node | null = decl;
  while (d && d.type !== 'identifier') {
    d = d.childForFieldName('declarator') ?? (d.type === 'parenthesized_declarator' ? d.namedChild(0) : null);
  }
  return d?.text;
}

/** The `name(params)` declarator of a function definition, under any pointer declarators. */
function functionDeclarator(def: Node): Node | null {
  let d = def.childForFieldName('declarator');
  while (d && d.type !== 'function_declarator') d = d.childForFieldName('declarator');
  return d;
}

export function functionName(def: Node): string | undefined {
  return functionDeclarator(def)?.childForFieldName('declarator')?.text;
}

function describeFunction(def: Node): FnInfo | undefined {
  const name = functionName(def);
  const body = def.childForFieldName('body');
  if (!name || !body) return undefined;
  const d = functionDeclarator(def);
  const params: string[] = [];
  const types = new Map<string, string>();
  for (const p of d?.childForFieldName('parameters')?.namedChildren ?? []) {
    if (p.type !== 'parameter_declaration') continue;
    const decl = p.childForFieldName('declarator');
    const n = (decl && declaredName(decl)) ?? '';
    params.push(n);
    if (n && decl) types.set(n, typeOf(p.childForFieldName('type'), decl));
  }
  const names = new Set(params.filter(Boolean));
  for (const decl of body.descendantsOfType(['declaration'])) {
    for (const d2 of decl.childrenForFieldName('declarator')) {
      const n = declaredName(d2);
      if (!n) continue;
      names.add(n);
      types.set(n, typeOf(decl.childForFieldName('type'), d2.type === 'init_declarator' ? d2.childForFieldName('declarator')! : d2));
    }
  }
  return { name, node: def, body, params, names, types, callers: 0, addressTaken: false, isStatic: isStaticDecl(def) };
}
