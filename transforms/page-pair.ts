/**
 * page-pair: one page's `[if (c)] set_page_dirty_lock(page); put_page(page);` becomes one call
 * in place — the single-page GUP (vfio put_pfn, mthca), and per-page releases inside loops that
 * must stay (iterator walks such as for_each_sg_page, loops that also clear the slot). Any other
 * put of one GUP page is one too: `__free_page(page)`, `folio_put(page_folio(page))`, … become
 * `unpin_user_page(page)`.
 *
 *   if (prot & IOMMU_WRITE)
 *           SetPageDirty(page);       →   unpin_user_pages_dirty_lock(&page, 1, prot & IOMMU_WRITE);
 *   put_page(page);
 *
 * A plain set_page_dirty() (no page lock) is kept and only the put changes (H7). A loop that
 * tests each slot for NULL keeps the test, and converts only if the slots no pin filled are
 * provably NULL (src/plan/null-skip.ts).
 */
import { nullSkipRefusal } from '../src/plan/null-skip.ts';
import { dirtyBefore, dirtyDifferences, isSinglePut, singleReleasePage } from '../src/plan/release-shapes.ts';
import { isRefusal, type MatchResult, type ReleaseContext, type ReleaseTransform } from '../src/plan/transform.ts';
import { enclosingLoop, forBound, norm, unparen } from '../src/sites/ast.ts';
import { testsElementForNull } from '../src/sites/conditions.ts';
import type { ReleaseCall } from '../src/sites/dataflow.ts';

function match(rel: ReleaseCall, ctx: ReleaseContext): MatchResult {
  if (!isSinglePut(rel)) return undefined;
  const putStmt = rel.call.parent;
  if (putStmt?.type !== 'expression_statement') return undefined;
  const page = singleReleasePage(rel);
  if (isRefusal(page)) return page;
  const dirty = dirtyBefore(putStmt, page.text);

  // Inside an index loop over a page array, the loop must walk exactly the pinned pages.
  const loop = enclosingLoop(putStmt);
  if (loop?.kind === 'for') {
    const elem = unparen(page);
    const bound = elem.type === 'subscript_expression' ? forBound(loop, norm(elem.childForFieldName('index')!.text)) : undefined;
    if ((bound || elem.type === 'identifier') && testsElementForNull(loop.body, putStmt, [page.text])) {
      // Kept as it is, the test skips the slots past the pinned count: they must be NULL (H5).
      const refusal = nullSkipRefusal(loop, putStmt, page, rel.fn, ctx.facts);
      if (refusal) return refusal;
    } else if (bound && !ctx.isPinnedCount(bound, rel.fn))
      return { refuse: 'bound', message: `loop bound '${bound.text}' is not the number of pages pinned` };
  }

  const unlocked = dirty?.dirty.via === 'set_page_dirty';
  const start = dirty && !unlocked ? dirty.stmt.startIndex : putStmt.startIndex;
  return {
    transform: 'page-pair',
    replacement: { kind: 'single', start, end: putStmt.endIndex, page: page.text, dirty: unlocked ? undefined : dirty?.dirty },
    differences: unlocked ? ['set_page_dirty() kept without the page lock (H7)'] : dirtyDifferences(dirty?.dirty),
  };
}

export const pagePair: ReleaseTransform = {
  meta: {
    name: 'page-pair',
    description: "one page's dirty + put_page() becomes one unpin call in place",
    example: 'if (d) set_page_dirty_lock(pg); put_page(pg);  →  unpin_user_pages_dirty_lock(&pg, 1, d);',
  },
  match,
};
