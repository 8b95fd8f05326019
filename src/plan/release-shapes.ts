/**
 * Shared recognisers for the statements around a release: the dirtying that precedes a
 * put_page() and the names it implies. Used by several transforms, owned by none.
 */
import type { Node } from '../parse/kernel-c.ts';
import { DIRTY_CALLS } from '../sites/api.ts';
import { bodyStatements, callArgs, callName, norm } from '../sites/ast.ts';
import { operands } from '../sites/conditions.ts';
import type { Dirty } from './replacement.ts';

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
