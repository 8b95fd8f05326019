/**
 * What the code does with a page value at one place it is named: the vocabulary of
 * pin_user_pages.rst case 4 ("struct page manipulation only"). A use is the acquire or a release
 * itself, a read of page metadata (page_to_phys(), Page*() tests, ->mapping), a test or a local
 * copy that is followed on its own — or anything else, which may reach the data.
 */
import type { Node } from '../parse/kernel-c.ts';
import { ARRAY_FREES, PASS_THROUGH } from './api.ts';
import { callArgs, callName } from './ast.ts';
import type { FnInfo } from './dataflow.ts';

/** Calls that read a page's metadata and return a value that is not the page. */
const METADATA_CALLS = new Set([
  'page_to_phys', 'page_to_nid', 'page_zonenum', 'page_zone', 'page_pgdat', 'compound_order',
  'compound_nr', 'page_size', 'page_shift', 'thp_size', 'thp_order', 'thp_nr_pages', 'page_count',
  'page_ref_count', 'page_mapcount', 'total_mapcount', 'page_mapped', 'page_mapping', 'page_index',
  'page_to_pgoff', 'page_is_pfmemalloc', 'is_zone_device_page', 'is_zero_page', 'is_huge_zero_page',
  'page_maybe_dma_pinned', 'is_longterm_pinnable_page', 'folio_nid', 'folio_order', 'folio_size',
  'folio_nr_pages', 'folio_zonenum', 'folio_mapping', 'folio_mapped', 'folio_ref_count',
  'folio_maybe_dma_pinned', 'folio_pfn',
]);
/** Flag tests (`PageHuge()`, `folio_test_anon()`); `SetPage*()`/`ClearPage*()` do not match. */
const METADATA_TEST = /^(Page[A-Z]\w*|folio_test_\w+)$/;
/** struct page fields that are metadata (the data is only reached through a mapping of the page). */
const METADATA_FIELDS = new Set(['mapping', 'index', 'flags', 'private']);
/** A pfn is a number: arithmetic on it other than +/- makes an address or a count, not a page. */
const TO_NUMBER = new Set(['page_to_pfn']);
/** Calls that only test a value (conditions, assertions). */
const TESTS = new Set(['WARN_ON', 'WARN_ON_ONCE', 'BUG_ON', 'likely', 'unlikely', 'IS_ERR', 'IS_ERR_OR_NULL']);

export const isMetadataCall = (name: string) => METADATA_CALLS.has(name) || METADATA_TEST.test(name);

export type PageUse =
  | { kind: 'acquire' | 'release' | 'neutral' }
  /**
   * A metadata read: `name` for the report (none for arithmetic on a pfn variable, named where
   * the pfn was read), `node` the value it yields (tracked further).
   */
  | { kind: 'metadata'; name?: string; node: Node }
  | { kind: 'other'; why: string };

export interface UseContext {
  fn: FnInfo;
  /** Whether `call` with the page as argument `index` is one of the group's acquires / releases. */
  isAcquire(call: Node, index: number): boolean;
  isRelease(call: Node, index: number): boolean;
  /** Whether a function of the file receives the group's pages in parameter `index`. */
  isPageParam(callee: string, index: number): boolean;
}

const COMPARISON = /^(==|!=|<|>|<=|>=)$/;

/**
 * The use of the page value named by identifier `id`. Wrappers that keep the page (parentheses,
 * casts, `*`, `&`, `[i]`, pointer arithmetic, page_folio(), page_to_pfn(), …) are walked up to
 * what consumes it.
 */
export function pageUse(id: Node, ctx: UseContext): PageUse {
  const type = ctx.fn.types.get(id.text);
  // A variable holding a pfn (`unsigned long pfn = page_to_pfn(page)`) is a number already.
  let number = !!type && !type.includes('*') && !/\b(struct|union)\b/.test(type);
  let via: string | undefined;
  const read = (node: Node, name = via) => (name ? { kind: 'metadata' as const, name, node } : { kind: 'neutral' as const });
  for (let n = id; ; ) {
    const p = n.parent;
    if (!p) return { kind: 'other', why: 'top level' };
    const is = (field: string) => p.childForFieldName(field)?.id === n.id;
    switch (p.type) {
      case 'parenthesized_expression':
      case 'pointer_expression':
        n = p;
        continue;
      case 'cast_expression':
      case 'subscript_expression':
        if (!is(p.type === 'cast_expression' ? 'value' : 'argument')) return { kind: 'other', why: `${p.type} operand` };
        n = p;
        continue;
      case 'conditional_expression':
        if (is('condition')) return read(p);
        n = p;
        continue;
      case 'comma_expression':
        if (!is('right')) return { kind: 'neutral' };
        n = p;
        continue;
      case 'binary_expression': {
        const op = p.childForFieldName('operator')?.text ?? '';
        if (COMPARISON.test(op)) return read(p, via ?? (number ? undefined : 'page pointer comparison'));
        if (op === '&&' || op === '||') return read(p);
        if (op === '+' || op === '-') {
          n = p;
          continue;
        }
        if (!number) return { kind: 'other', why: `operator ${op}` };
        return { kind: 'metadata', name: via, node: p };
      }
      case 'unary_expression':
        return p.childForFieldName('operator')?.text === '!' ? read(p) : { kind: 'other', why: 'unary operator' };
      case 'field_expression': {
        const field = p.childForFieldName('field')?.text ?? '';
        return is('argument') && METADATA_FIELDS.has(field) ? read(p, `->${field}`) : { kind: 'other', why: `->${field}` };
      }
      case 'argument_list': {
        const call = p.parent!;
        const name = callName(call) ?? '';
        const index = callArgs(call).findIndex((a) => a.id === n.id);
        if (ctx.isAcquire(call, index)) return { kind: 'acquire' };
        if (ctx.isRelease(call, index)) return { kind: 'release' };
        if (PASS_THROUGH.has(name) && index === 0) {
          if (TO_NUMBER.has(name)) {
            number = true;
            via = `${name}()`;
          }
          n = call;
          continue;
        }
        if (isMetadataCall(name)) return { kind: 'metadata', name: `${name}()`, node: call };
        if (TESTS.has(name) || ARRAY_FREES.has(name)) return read(call);
        if (ctx.isPageParam(name, index)) return read(call);
        return { kind: 'other', why: `${name}()` };
      }
      case 'assignment_expression':
        if (is('left')) return { kind: 'neutral' };
        // A copy into a local is followed through the local's own uses; any other store keeps
        // the page beyond what is seen here.
        return p.childForFieldName('operator')?.text === '=' && localStore(p.childForFieldName('left')!, ctx.fn)
          ? read(p)
          : { kind: 'other', why: 'stored' };
      case 'init_declarator':
        return is('value') ? read(p) : { kind: 'neutral' };
      case 'update_expression':
      case 'expression_statement':
      case 'sizeof_expression':
      case 'if_statement':
      case 'while_statement':
      case 'do_statement':
      case 'for_statement':
        return read(p);
      case 'return_statement':
        return { kind: 'other', why: 'returned' };
      default:
        return { kind: 'other', why: p.type };
    }
  }
}

/**
 * Whether an assignment to `lhs` stays in `fn`: a local variable (or a parameter variable itself),
 * or an element of a local array or through a local pointer — whose own uses are then followed.
 * A field, a global or a store through a parameter outlives the function.
 */
export function localStore(lhs: Node, fn: FnInfo): boolean {
  let n = lhs;
  let through = false;
  for (;;) {
    if (n.type === 'parenthesized_expression') n = n.namedChild(0)!;
    else if (n.type === 'subscript_expression' || n.type === 'pointer_expression') {
      n = n.childForFieldName('argument')!;
      through = true;
    } else break;
  }
  if (n?.type !== 'identifier' || !fn.names.has(n.text)) return false;
  return !through || !fn.params.includes(n.text);
}

/** Whether identifier `id` is the name being declared (a declarator or a parameter), not a use. */
export function isDeclared(id: Node): boolean {
  let n = id;
  for (let p = n.parent; p; n = p, p = p.parent) {
    if (p.type === 'pointer_declarator' || p.type === 'array_declarator' || p.type === 'parenthesized_declarator') {
      if (p.type === 'array_declarator' && p.childForFieldName('size')?.id === n.id) return false;
      continue;
    }
    if (p.type === 'init_declarator') return p.childForFieldName('declarator')?.id === n.id;
    return p.type === 'declaration' || p.type === 'parameter_declaration';
  }
  return false;
}
