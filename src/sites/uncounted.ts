/**
 * Pins a counting loop never counts: a loop that pins one page per iteration and bumps its
 * counter after the pin releases `[0, n)` later, so an iteration that leaves the loop after its
 * pin succeeded and before the bump leaks that page, unless it releases it itself. nitro_enclaves
 * does this when a pinned page fails its sanity check. It is the original's bug, and the
 * conversion keeps it as it is: reported as a finding, not a reason to refuse.
 */
import type { Node } from '../parse/kernel-c.ts';
import { MAY_RELEASE_RE } from './api.ts';
import { counterBumps, enclosingLoop, lineOf } from './ast.ts';
import type { Diagnostic } from './diagnostics.ts';
import type { AcquireCall, FileFacts } from './dataflow.ts';

const EXITS = ['goto_statement', 'break_statement', 'return_statement'];

export function uncountedPins(acquires: readonly AcquireCall[], facts: FileFacts): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const a of acquires) {
    // A loop that pins one page per iteration (a chunk's count is counted otherwise).
    const loop = enclosingLoop(a.call);
    if (!loop || loop.kind === 'macro' || a.args[a.layout.count]?.text.trim() !== '1') continue;
    const bump = counterBumps(loop.body, a.call)[0]?.bump;
    if (!bump) continue;
    const leaks: Node[] = [];
    for (const exit of loop.body.descendantsOfType(EXITS)) {
      if (exit.startIndex < a.call.endIndex || exit.startIndex > bump.startIndex) continue;
      const test = enclosingIf(exit, loop.body);
      const cond = test?.childForFieldName('condition');
      // Leaving because the pin failed (the test is of its result, or the call itself): nothing
      // was pinned.
      if (!test || !cond || cond.startIndex <= a.call.startIndex || testsResult(facts, cond, a)) continue;
      if (!releasesBefore(facts, test, exit)) leaks.push(exit);
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

/** Does `cond` read the acquire's result (`ret`, `iter.nr_pages`)? */
function testsResult(facts: FileFacts, cond: Node, a: AcquireCall): boolean {
  return !!a.resultKey && cond.descendantsOfType(['identifier', 'field_expression']).some((e) => facts.keyOf(e, a.fn) === a.resultKey);
}

function enclosingIf(node: Node, within: Node): Node | undefined {
  for (let n = node.parent; n && n.id !== within.id; n = n.parent) if (n.type === 'if_statement') return n;
  return undefined;
}

/** Does the branch leading to `exit` release a page before it (itself, or through a helper)? */
function releasesBefore(facts: FileFacts, test: Node, exit: Node): boolean {
  const between = (n: Node) => n.startIndex > test.startIndex && n.startIndex < exit.startIndex;
  return facts.releases.some((r) => between(r.call)) || facts.localCalls.some((c) => between(c.call) && MAY_RELEASE_RE.test(c.callee));
}
