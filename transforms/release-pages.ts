/**
 * release-pages: `release_pages(a, n)` on GUP pages becomes `unpin_user_pages(a, n)` (etnaviv
 * userptr). release_pages() treats a negative count as "nothing"; unpin_user_pages() WARNs,
 * so a count that may still be an errno gets a guard (H6).
 */
import type { MatchResult, ReleaseContext, ReleaseTransform } from '../src/plan/transform.ts';
import type { ReleaseCall } from '../src/sites/dataflow.ts';

function match(rel: ReleaseCall, ctx: ReleaseContext): MatchResult {
  if (rel.name !== 'release_pages' || rel.args.length !== 2) return undefined;
  const stmt = rel.call.parent;
  if (stmt?.type !== 'expression_statement') return undefined;
  const [array, count] = rel.args;
  if (!ctx.isPinnedCount(count, rel.fn))
    return { refuse: 'bound', message: `release count '${count.text}' is not the number of pages pinned` };
  return {
    transform: 'release-pages',
    replacement: {
      kind: 'bulk',
      start: stmt.startIndex,
      end: stmt.endIndex,
      array: array.text,
      count: count.text,
      guardNegative: ctx.mayBeNegative(count, stmt, rel.fn),
    },
  };
}

export const releasePages: ReleaseTransform = {
  meta: {
    name: 'release-pages',
    description: 'release_pages() of GUP pages becomes unpin_user_pages()',
    example: 'release_pages(pvec, pinned);  →  unpin_user_pages(pvec, pinned);',
  },
  match,
};
