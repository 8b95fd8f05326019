/**
 * interim-api: code already on the 5.2–5.5 put_user_page*() API moves to the target's names
 * (and to the right put_user_pages_dirty_lock() arity on 5.3 vs 5.4).
 *
 *   put_user_pages_dirty_lock(pages, n);      →  unpin_user_pages_dirty_lock(pages, n, true);
 *   put_user_pages(pages, n);                 →  unpin_user_pages(pages, n);
 *   put_user_page(page);                      →  unpin_user_page(page);
 *
 * put_user_pages_dirty() (5.2–5.3, unlocked dirtying) has no pin equivalent: refused (H7).
 */
import type { MatchResult, ReleaseTransform } from '../src/plan/transform.ts';
import type { ReleaseCall } from '../src/sites/dataflow.ts';

function match(rel: ReleaseCall): MatchResult {
  if (rel.api.family !== 'interim') return undefined;
  const stmt = rel.call.parent;
  if (stmt?.type !== 'expression_statement') return undefined;
  const range = { start: stmt.startIndex, end: stmt.endIndex };
  switch (rel.name) {
    case 'put_user_page':
      return { transform: 'interim-api', replacement: { kind: 'single', ...range, page: rel.args[0].text } };
    case 'put_user_pages':
      return {
        transform: 'interim-api',
        replacement: { kind: 'bulk', ...range, array: rel.args[0].text, count: rel.args[1].text },
      };
    case 'put_user_pages_dirty_lock': {
      const when = rel.args[2]?.text ?? 'true';
      return {
        transform: 'interim-api',
        replacement: {
          kind: 'bulk',
          ...range,
          array: rel.args[0].text,
          count: rel.args[1].text,
          dirty: { when, via: 'put_user_pages_dirty_lock', skippedDirty: true },
        },
      };
    }
    default:
      return { refuse: 'unsupported-release', message: `${rel.name}() dirties without the page lock and has no unpin equivalent (H7)` };
  }
}

export const interimApi: ReleaseTransform = {
  meta: {
    name: 'interim-api',
    description: 'put_user_page*() (5.2–5.5) becomes the target API',
    example: 'put_user_pages_dirty_lock(p, n);  →  unpin_user_pages_dirty_lock(p, n, true);',
  },
  match,
};
