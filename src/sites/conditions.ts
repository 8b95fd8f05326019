/**
 * Small, syntactic facts about conditions around a release: is a count known to be
 * non-negative here (H6), and does a loop skip NULL slots (H5)?
 */
import type { Node } from '../parse/kernel-c.ts';
import { bodyStatements, descendants, norm, unparen } from './ast.ts';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Split a condition into its top-level `op`-joined operands (parentheses dropped). */
export function operands(cond: Node, op: '&&' | '||'): Node[] {
  const e = unparen(cond);
  if (e.type === 'binary_expression' && e.childForFieldName('operator')?.text === op)
    return [...operands(e.childForFieldName('left')!, op), ...operands(e.childForFieldName('right')!, op)];
  return [e];
}

/** Text of a comparison with casts dropped, e.g. `(unsigned int)ret<nr` → `ret<nr`. */
const bare = (n: Node) => norm(n.text).replace(/\((unsigned|signed|int|long|size_t|u\d+|s\d+)[\w ]*\)/g, '');

/** `cond` (when true) implies `x >= 0`. */
function impliesNonNegative(cond: Node, x: string): boolean {
  const X = escape(x);
  const re = new RegExp(`^(${X}>0|${X}>=0|${X}>=1|0<${X}|0<=${X}|${X}==\\w[\\w>.-]*)$`);
  return operands(cond, '&&').some((c) => re.test(bare(c)));
}

/** `cond` (when true) holds for every negative `x` (so its false branch has `x >= 0`). */
function coversNegative(cond: Node, x: string): boolean {
  const X = escape(x);
  const re = new RegExp(`^(${X}<0|${X}<=0|${X}<1|${X}<\\w[\\w>.-]*|${X}!=\\w[\\w>.-]*|IS_ERR_VALUE\\(${X}\\))$`);
  return operands(cond, '||').some((c) => re.test(bare(c)));
}

/** Does statement `s` always leave the enclosing block (return/goto/break/continue)? */
function alwaysJumps(s: Node): boolean {
  if (/^(return|goto|break|continue)_statement$/.test(s.type)) return true;
  if (s.type === 'compound_statement') {
    const stmts = bodyStatements(s);
    return stmts.length > 0 && alwaysJumps(stmts[stmts.length - 1]);
  }
  if (s.type === 'if_statement') {
    const alt = s.childForFieldName('alternative');
    return !!alt && alwaysJumps(s.childForFieldName('consequence')!) && alwaysJumps(alt.namedChildren.at(-1)!);
  }
  return false;
}

/**
 * Is `x` known to be non-negative at `at`? Looks at enclosing `if`s and at earlier
 * `if (x < 0) return/goto …` exits in enclosing blocks, stopping at the function boundary.
 * A reassignment of `x` between the check and `at` is not tracked: the checks we accept are
 * the ones kernel code writes right after the call.
 */
export function knownNonNegative(x: string, at: Node): boolean {
  let child = at;
  for (let n = at.parent; n && n.type !== 'function_definition'; child = n, n = n.parent) {
    if (n.type === 'if_statement') {
      const cond = n.childForFieldName('condition')!;
      if (n.childForFieldName('consequence')?.id === child.id && impliesNonNegative(cond, x)) return true;
    }
    // The alternative of an `if` is its else_clause.
    if (n.type === 'else_clause' && n.parent?.type === 'if_statement') {
      if (coversNegative(n.parent.childForFieldName('condition')!, x)) return true;
    }
    if (n.type === 'compound_statement') {
      for (const s of n.namedChildren) {
        if (s.startIndex >= child.startIndex) break;
        if (s.type !== 'if_statement' || s.childForFieldName('alternative')) continue;
        if (coversNegative(s.childForFieldName('condition')!, x) && alwaysJumps(s.childForFieldName('consequence')!))
          return true;
      }
    }
  }
  return false;
}

/**
 * Does a loop body test the released element (or its slot) for NULL before releasing it?
 * Such loops walk a sparse array whose bound is not the pinned count (H5, drm/via).
 */
export function testsElementForNull(body: Node, stmt: Node, elements: string[]): boolean {
  const wanted = new Set(elements.map(norm));
  const guards: Node[] = [];
  for (let n = stmt.parent; n && n.id !== body.parent?.id; n = n.parent)
    if (n.type === 'if_statement') guards.push(n.childForFieldName('condition')!);
  for (const s of bodyStatements(body)) {
    if (s.startIndex >= stmt.startIndex) break;
    if (s.type === 'if_statement' && alwaysJumps(s.childForFieldName('consequence')!))
      guards.push(s.childForFieldName('condition')!);
  }
  for (const cond of guards) {
    for (const d of descendants(cond)) {
      if (!wanted.has(norm(d.text))) continue;
      // Inside a call (PageDirty(p), PageReserved(p)) it is a page test, not a NULL test.
      let inCall = false;
      for (let p = d.parent; p && p.id !== cond.id; p = p.parent) if (p.type === 'argument_list') inCall = true;
      if (!inCall) return true;
    }
  }
  return false;
}
