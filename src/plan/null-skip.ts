/**
 * A release loop that tests each slot for NULL before releasing it (H5, drm/via), often over the
 * requested count rather than the pinned one. Converted in place, the test kept, when the slots
 * no acquire filled are provably NULL (src/sites/zeroed.ts): then whatever the bound, it releases
 * exactly the pinned pages. Never turned into a bulk unpin over the bound: upstream did that and
 * shipped a NULL dereference on a short pin.
 */
import type { Node } from '../parse/kernel-c.ts';
import { descendants, norm, unparen, type Loop } from '../sites/ast.ts';
import type { FileFacts, FnInfo } from '../sites/dataflow.ts';
import { whyNotZeroed } from '../sites/zeroed.ts';
import type { Refusal } from './transform.ts';

/** The refusal of a NULL-testing release of `page` in `loop`, or undefined if it converts. */
export function nullSkipRefusal(loop: Loop, putStmt: Node, page: Node, fn: FnInfo, facts: FileFacts): Refusal | undefined {
  const arrays = walkedArrays(loop, putStmt, page);
  const why = typeof arrays === 'string' ? arrays : arrays.map((a) => whyNotZeroed(facts, a, fn)).find(Boolean);
  if (!why) return undefined;
  return { refuse: 'null-skip', message: `the loop tests '${page.text}' for NULL, but the slots past the pinned count are not provably NULL: ${why}` };
}

/** The arrays whose slots the loop releases: `a` of `a[i]`, or of `page = a[i]` in the body. */
function walkedArrays(loop: Loop, putStmt: Node, page: Node): Node[] | string {
  const elem = unparen(page);
  if (elem.type === 'subscript_expression') return [elem.childForFieldName('argument')!];
  const name = norm(elem.text);
  const values: Node[] = [];
  for (const n of descendants(loop.body)) {
    if (n.type === 'init_declarator' && norm(n.childForFieldName('declarator')!.text).replace(/^\*+/, '') === name) values.push(n.childForFieldName('value')!);
    if (n.type === 'assignment_expression' && norm(n.childForFieldName('left')!.text) === name) values.push(n.childForFieldName('right')!);
  }
  const loads = values.filter(Boolean).map(unparen);
  if (!loads.length || loads[0].startIndex > putStmt.startIndex || loads.some((v) => v.type !== 'subscript_expression'))
    return `'${page.text}' is not loaded from an array slot in the loop`;
  return loads.map((v) => v.childForFieldName('argument')!);
}
