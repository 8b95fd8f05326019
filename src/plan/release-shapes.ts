/**
 * Shared recognisers for the statements around a release: the dirtying that precedes a
 * put_page() and the names it implies. Used by several transforms, owned by none.
 */
import type { Node } from '../parse/kernel-c.ts';
import { DIRTY_CALLS } from '../sites/api.ts';
import { bodyStatements, callArgs, callName, norm } from '../sites/ast.ts';
import { operands } from '../sites/conditions.ts';
import { releasedPage, type ReleaseCall } from '../sites/dataflow.ts';
import type { Dirty } from './replacement.ts';
import type { Refusal } from './transform.ts';

/**
 * A FOLL_GET release of one page (put_page(), __free_page(), __free_pages(p, 0),
 * free_page((unsigned long)page_address(p)), folio_put(page_folio(p)), page_cache_release()).
 */
export const isSinglePut = (rel: ReleaseCall) => rel.api.family === 'get' && rel.api.page !== undefined;

/** The page a single-page release drops, as written, or why no unpin can stand for it. */
export function singleReleasePage(rel: ReleaseCall): Node | Refusal {
  const order = rel.api.order === undefined ? undefined : rel.args[rel.api.order];
  if (order && norm(order.text) !== '0')
    return { refuse: 'release-kind', message: `${rel.name}() here frees an order-${order.text} block: a page from get_user_pages*() is one page` };
  const page = releasedPage(rel);
  if (!page) return { refuse: 'release-kind', message: `${rel.name}(${rel.args[0]?.text ?? ''}) does not name the page it drops: gup2pin cannot write its unpin` };
  return page;
}

/** The call of an expression statement `f(…);`, if that is all it is. */
function statementCall(stmt: Node | null | undefined): Node | undefined {
  if (!stmt || stmt.type !== 'expression_statement') return undefined;
  const e = stmt.firstNamedChild;
  return e?.type === 'call_expression' ? e : undefined;
}

/** `cond` without `!PageDirty(page)` conjuncts; `undefined` text when nothing remains. */
function dropPageDirtyTest(cond: Node, page: string): { text?: string; dropped: boolean } {
  const parts = operands(cond, '&&');
  const keep = parts.filter((p) => norm(p.text) !== norm(`!PageDirty(${page})`));
  const text = keep.map((p) => (keep.length > 1 && p.type === 'binary_expression' && /\|\|/.test(p.text) ? `(${p.text})` : p.text)).join(' && ');
  return { text: keep.length ? text : undefined, dropped: keep.length !== parts.length };
}

export interface DirtyStatement {
  stmt: Node;
  dirty: Dirty;
  /** The condition node, when the dirtying is conditional. */
  cond?: Node;
}

/** A dirtying statement for `page` right before `putStmt`: `[if (c)] set_page_dirty*(page);` */
export function dirtyBefore(putStmt: Node, page: string): DirtyStatement | undefined {
  const prev = putStmt.previousNamedSibling;
  if (!prev) return undefined;
  const asDirty = (s: Node | null | undefined) => {
    const call = statementCall(s);
    const name = call && callName(call);
    if (!call || !name || !(name in DIRTY_CALLS)) return undefined;
    const arg = callArgs(call)[0];
    return arg && norm(arg.text) === norm(page) ? (name as Dirty['via']) : undefined;
  };
  const direct = asDirty(prev);
  if (direct) return { stmt: prev, dirty: { when: 'true', via: direct } };
  if (prev.type !== 'if_statement' || prev.childForFieldName('alternative')) return undefined;
  const cons = prev.childForFieldName('consequence')!;
  const inner = bodyStatements(cons);
  if (inner.length !== 1) return undefined;
  const via = asDirty(inner[0]);
  if (!via) return undefined;
  const cond = prev.childForFieldName('condition')!;
  const { text, dropped } = dropPageDirtyTest(cond, page);
  return { stmt: prev, cond, dirty: { when: text ?? 'true', via, skippedDirty: dropped } };
}

/** Names of the intended behaviour differences of replacing `dirty` with the pin helper. */
export function dirtyDifferences(dirty: Dirty | undefined): string[] {
  if (!dirty) return [];
  const out: string[] = [];
  if (dirty.via === 'SetPageDirty') out.push('SetPageDirty → mapping-aware dirtying under the page lock');
  if (!dirty.skippedDirty && dirty.via !== 'set_page_dirty' && dirty.via !== 'put_user_pages_dirty_lock')
    out.push('already-dirty pages skipped');
  return out;
}
