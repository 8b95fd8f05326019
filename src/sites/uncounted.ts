/**
 * Pins a counting loop never counts: a loop that pins one page per iteration and bumps its
 * counter after the pin releases `[0, n)` later, so an iteration that leaves the loop after its
 * pin succeeded and before the bump leaks that page, unless it releases it itself. nitro_enclaves
 * does this when a pinned page fails its sanity check. It is the original's bug, and the
 * conversion keeps it as it is: reported as a finding, not a reason to refuse.
 */
import type { Node } from '../parse/kernel-c.ts';
import { enclosingLoop, isLoopStep, lineOf, norm } from './ast.ts';
import type { Diagnostic } from './diagnostics.ts';
import type { AcquireCall, FileFacts } from './dataflow.ts';

const EXITS = ['goto_statement', 'break_statement', 'return_statement'];

export function uncountedPins(acquires: readonly AcquireCall[], facts: FileFacts): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const a of acquires) {
    // A loop that pins one page per iteration (a chunk's count is counted otherwise).
    const loop = enclosingLoop(a.call);
    if (!loop || loop.kind === 'macro' || a.args[a.layout.count]?.text.trim() !== '1') continue;
    const bump = counterBump(loop.body, a.call);
    if (!bump) continue;
    const result = resultName(a.call);
    const leaks: Node[] = [];
    for (const exit of loop.body.descendantsOfType(EXITS)) {
      if (exit.startIndex < a.call.endIndex || exit.startIndex > bump.startIndex) continue;
      const test = enclosingIf(exit, loop.body);
      // Leaving because the pin failed: nothing was pinned.
      const cond = test?.childForFieldName('condition');
      if (!cond || (result && norm(cond.text).includes(result)) || cond.startIndex <= a.call.startIndex) continue;
      if (!releasesBefore(facts, test!, exit)) leaks.push(exit);
    }
    if (!leaks.length) continue;
    const at = leaks.map(lineOf);
    out.push({
      code: 'uncounted-pin',
      line: at[0],
      message: `the page ${a.name}() pins at line ${lineOf(a.call)} is not counted yet where the loop is left at line${at.length > 1 ? 's' : ''} ${at.join(', ')}: it is never released (pre-existing leak, kept as it is)`,
    });
  }
  return out;
}

/** The first `n++` / `n += 1` after the acquire in the loop's body (not an inner loop's step). */
function counterBump(body: Node, call: Node): Node | undefined {
  return body.descendantsOfType(['update_expression', 'assignment_expression']).find((n) => {
    if (n.startIndex < call.endIndex || isLoopStep(n)) return false;
    if (n.type === 'update_expression') return n.text.includes('++');
    return n.childForFieldName('operator')?.text === '+=' && n.childForFieldName('right')?.text.trim() === '1';
  });
}

/** `ret` in `ret = get_user_pages…(…)` (or `iter.nr_pages`): what a failure test names. */
function resultName(call: Node): string | undefined {
  let p = call.parent;
  while (p?.type === 'parenthesized_expression' || p?.type === 'cast_expression') p = p.parent;
  const lhs = p?.type === 'assignment_expression' ? p.childForFieldName('left') : undefined;
  return lhs ? norm(lhs.text) : undefined;
}

function enclosingIf(node: Node, within: Node): Node | undefined {
  for (let n = node.parent; n && n.id !== within.id; n = n.parent) if (n.type === 'if_statement') return n;
  return undefined;
}

/** Does the branch leading to `exit` release a page before it? */
function releasesBefore(facts: FileFacts, test: Node, exit: Node): boolean {
  return facts.releases.some((r) => r.call.startIndex > test.startIndex && r.call.startIndex < exit.startIndex)
    || facts.localCalls.some((c) => c.call.startIndex > test.startIndex && c.call.startIndex < exit.startIndex && /put|free|release|unpin/.test(c.callee));
}
