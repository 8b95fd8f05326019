/**
 * whole-loop: a loop that does nothing but release `a[i]` for i in [0, n) becomes one bulk call.
 *
 *   for (i = 0; i < n; i++) {              unpin_user_pages_dirty_lock(a, n, dirty);
 *           if (dirty)                 →
 *                   set_page_dirty_lock(a[i]);
 *           put_page(a[i]);
 *   }
 *
 * Also `while (n--) { … *p …; p++; }` with `p` starting at the array base (siw). Only when the
 * dirty condition is loop-invariant, no slot is tested for NULL (H5) and `n` is the pinned
 * count; anything else is left to page-pair, which keeps the loop.
 */
import type { Node } from '../src/parse/kernel-c.ts';
import { dirtyBefore, dirtyDifferences, isSinglePut, singleReleasePage } from '../src/plan/release-shapes.ts';
import { isRefusal, type MatchResult, type ReleaseContext, type ReleaseTransform } from '../src/plan/transform.ts';
import { bodyStatements, enclosingLoop, forBound, mentions, norm, unparen, type Loop } from '../src/sites/ast.ts';
import type { ReleaseCall } from '../src/sites/dataflow.ts';

interface IndexLoop {
  index: string;
  count: Node;
}

/** `for (i = 0; i < n; i++)` → { i, n }. */
function indexLoop(loop: Loop): IndexLoop | undefined {
  if (loop.kind !== 'for') return undefined;
  const init = loop.node.childForFieldName('initializer');
  const update = loop.node.childForFieldName('update');
  if (!init || !update) return undefined;
  const assign = init.type === 'declaration' ? init.childForFieldName('declarator') : init;
  const lhs = assign?.type === 'init_declarator' ? assign.childForFieldName('declarator') : assign?.childForFieldName('left');
  const rhs = assign?.type === 'init_declarator' ? assign.childForFieldName('value') : assign?.childForFieldName('right');
  if (lhs?.type !== 'identifier' || rhs?.text !== '0') return undefined;
  const index = lhs.text;
  const count = forBound(loop, index);
  if (!count || mentions(count, index)) return undefined;
  if (!new RegExp(`^(${index}\\+\\+|\\+\\+${index}|${index}\\+=1)$`).test(norm(update.text))) return undefined;
  return { index, count };
}

function match(rel: ReleaseCall, ctx: ReleaseContext): MatchResult {
  if (!isSinglePut(rel)) return undefined;
  const pageNode = singleReleasePage(rel);
  // A release no unpin can stand for is page-pair's to refuse.
  if (isRefusal(pageNode)) return undefined;
  const putStmt = rel.call.parent;
  if (putStmt?.type !== 'expression_statement') return undefined;
  const loop = enclosingLoop(putStmt);
  if (!loop || (loop.kind !== 'for' && loop.kind !== 'while')) return undefined;
  const stmts = bodyStatements(loop.body);
  if (stmts.at(-1)?.id !== putStmt.id && stmts.at(-2)?.id !== putStmt.id) return undefined;
  const page = pageNode.text;
  const dirty = dirtyBefore(putStmt, page);
  const core = dirty ? [dirty.stmt, putStmt] : [putStmt];
  const fnBody = rel.fn.body;

  const idx = indexLoop(loop);
  let array: string | undefined;
  let count: Node | undefined;
  const maybeUnused: string[] = [];
  const rest = stmts.filter((s) => !core.some((c) => c.id === s.id));
  if (idx) {
    if (rest.length > 1 || stmts.at(-1)?.id !== putStmt.id) return undefined;
    const elem = unparen(pageNode);
    if (elem.type === 'subscript_expression' && norm(elem.childForFieldName('index')!.text) === idx.index) {
      if (rest.length) return undefined;
      array = elem.childForFieldName('argument')!.text;
    } else if (elem.type === 'identifier' && rest.length === 1 && rest[0].type === 'declaration') {
      // `struct page *page = a[i];` as the first statement of the body.
      const m = /^structpage\*(\w+)=(.+)\[(\w+)\];$/.exec(norm(rest[0].text));
      if (!m || m[1] !== elem.text || m[3] !== idx.index || rest[0].id !== stmts[0].id) return undefined;
      array = rest[0].text.slice(rest[0].text.indexOf('=') + 1, rest[0].text.lastIndexOf('[')).trim();
    } else return undefined;
    if (new RegExp(`\\b${idx.index}\\b`).test(array)) return undefined;
    // After the loop the counter equals n; code that reads it there needs the loop.
    if (readAfter(fnBody, idx.index, loop.node)) return undefined;
    count = idx.count;
    maybeUnused.push(idx.index);
  } else if (loop.kind === 'while') {
    // while (n--) { [dirty(*p);] put_page(*p); p++; }
    const cond = unparen(loop.node.childForFieldName('condition')!);
    const m = /^(\w+)--$/.exec(norm(cond.text));
    const pm = /^\*(\w+)$/.exec(norm(page));
    if (!m || !pm || rest.length !== 1 || norm(rest[0].text) !== `${pm[1]}++;` || stmts.at(-1)?.id !== rest[0].id)
      return undefined;
    const base = walkingPointerBase(fnBody, pm[1], loop.node);
    if (!base) return undefined;
    // The counter must not be read after the loop: it ends at -1 there.
    if (readAfter(fnBody, m[1], loop.node)) return undefined;
    array = base;
    count = cond.childForFieldName('argument')!;
    maybeUnused.push(pm[1]);
  } else return undefined;

  if (idx && dirty?.cond && mentions(dirty.cond, idx.index)) return undefined;
  if (dirty && dirty.dirty.when !== 'true' && /\b(PageDirty|PageReserved|PageCompound|page_)\w*\(/.test(dirty.dirty.when)) return undefined;
  if (dirty?.dirty.via === 'set_page_dirty') return undefined;

  if (!ctx.isPinnedCount(count, rel.fn))
    return { refuse: 'bound', message: `loop bound '${count.text}' is not the number of pages pinned` };
  return {
    transform: 'whole-loop',
    replacement: {
      kind: 'bulk',
      start: loop.node.startIndex,
      end: loop.node.endIndex,
      array,
      count: count.text,
      dirty: dirty?.dirty,
      guardNegative: ctx.mayBeNegative(count, loop.node, rel.fn),
    },
    maybeUnused,
    differences: dirtyDifferences(dirty?.dirty),
  };
}

/** Is the value `name` has after `loop` used? Its next mention must be a plain assignment. */
function readAfter(fnBody: Node, name: string, loop: Node): boolean {
  const next = fnBody.descendantsOfType('identifier').find((id) => id.text === name && id.startIndex >= loop.endIndex);
  if (!next) return false;
  const p = next.parent;
  const write = p?.type === 'assignment_expression' && p.childForFieldName('left')?.id === next.id && p.childForFieldName('operator')?.text === '=';
  return !write;
}

/** `p` in `struct page **p = base;` (or `p = base;` just before the loop) → `base`. */
function walkingPointerBase(fnBody: Node, p: string, loop: Node): string | undefined {
  const assign = loop.previousNamedSibling;
  if (assign?.type === 'expression_statement') {
    const m = new RegExp(`^${p}=(.+);$`).exec(norm(assign.text));
    if (m) return assign.text.slice(assign.text.indexOf('=') + 1, assign.text.lastIndexOf(';')).trim();
  }
  for (const decl of fnBody.descendantsOfType('init_declarator')) {
    if (norm(decl.childForFieldName('declarator')!.text).replace(/^\*+/, '') !== p) continue;
    const writes = fnBody.descendantsOfType('assignment_expression').some((a) => norm(a.childForFieldName('left')!.text) === p);
    return writes ? undefined : decl.childForFieldName('value')?.text;
  }
  return undefined;
}

export const wholeLoop: ReleaseTransform = {
  meta: {
    name: 'whole-loop',
    description: 'a loop releasing every pinned page becomes one unpin_user_pages*() call',
    example: 'for (i = 0; i < n; i++) put_page(p[i]);  →  unpin_user_pages(p, n);',
  },
  match,
};
