/**
 * Releases in atomic context (H8), judged against the original: a dirtying unpin takes the page
 * lock and may sleep, so it may only stand under a spinlock where the original already slept.
 *
 * - The original dirtied these pages with a sleeping call (`set_page_dirty_lock()`, the interim
 *   `put_user_pages_dirty_lock()`) right before the put: the conversion sleeps on the same path
 *   and no more. Converted; the old sleep under the lock is reported as a finding.
 * - The original flagged one page dirty without the page lock (`SetPageDirty()`): the statement
 *   is kept as written and only the put becomes `unpin_user_page()`. No page lock, no sleep, and
 *   no change to how the page is dirtied. (`set_page_dirty()` the transforms keep themselves.)
 * - Anything else would add a sleep under the lock: refused. That is a whole loop of
 *   `SetPageDirty()` + `put_page()`: its rewrite is the bulk dirtying unpin, or nothing.
 *
 * A group already on the pin API gets the finding too when its dirtying unpin runs under a lock.
 */
import type { Node } from '../parse/kernel-c.ts';
import { callName, lineOf } from '../sites/ast.ts';
import { releasedPage, type ReleaseCall } from '../sites/dataflow.ts';
import type { Diagnostic } from '../sites/diagnostics.ts';
import type { PinGroup } from '../sites/groups.ts';
import { dirtyBefore } from './release-shapes.ts';
import type { Match } from './transform.ts';

export type AtomicJudgement = { match: Match; finding?: Diagnostic } | { refuse: Diagnostic };

/** A make_dirty that never dirties, hence never locks a page. */
const NEVER = /^\s*(false|0)\s*$/;

/** Calls that dirty under the page lock: they sleep wherever they run. */
const SLEEPING_DIRTY = new Set(['set_page_dirty_lock', 'put_user_pages_dirty_lock']);

/** `m`, the rewrite of `rel`, judged for a release under `lock` (the call that took it). */
export function judgeAtomic(rel: ReleaseCall, m: Match, lock: Node): AtomicJudgement {
  const dirty = m.replacement.dirty;
  if (!dirty || NEVER.test(dirty.when)) return { match: m };
  const sleeper = sleepingDirtyCall(rel, dirty.via);
  if (sleeper) return { match: m, finding: sleepFinding(sleeper, lock) };
  const put = rel.call.parent;
  if (dirty.via === 'SetPageDirty' && m.replacement.kind === 'single' && put?.type === 'expression_statement' && m.replacement.end === put.endIndex)
    return {
      match: {
        ...m,
        replacement: { kind: 'single', start: put.startIndex, end: put.endIndex, page: m.replacement.page },
        differences: ['SetPageDirty() kept without the page lock under a spinlock (H8)'],
      },
    };
  return {
    refuse: { code: 'atomic-context', line: lineOf(rel.call), message: `${rel.fn.name}() releases under a spinlock: the dirtying unpin would take the page lock and may sleep` },
  };
}

/**
 * The dirtying unpins of a group already on the pin API that run under a spinlock: the sleep is
 * there already (usnic upstream, reported by Smatch in 2022). A literal `false` does not sleep.
 */
export function pinnedSleeps(group: PinGroup, atomic: ReadonlyMap<number, Node>): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const r of group.releases) {
    const lock = atomic.get(r.call.id);
    if (!lock || r.api.dirty === undefined) continue;
    // 5.3's put_user_pages_dirty_lock() has no make_dirty: it always dirties.
    if (!NEVER.test(r.args[r.api.dirty]?.text ?? 'true')) out.push(sleepFinding(r.call, lock));
  }
  return out;
}

function sleepFinding(call: Node, lock: Node): Diagnostic {
  const at = lineOf(call);
  const under = `${lock.text.replace(/\s+/g, ' ')} at line ${lineOf(lock)}`;
  return { code: 'sleep-in-atomic', line: at, message: `${callName(call)}() at line ${at} already sleeps under ${under} (pre-existing)` };
}

/** The original's sleeping dirtying of the released pages, when it is what the rewrite replaces. */
function sleepingDirtyCall(rel: ReleaseCall, via: string): Node | undefined {
  if (!SLEEPING_DIRTY.has(via)) return undefined;
  if (SLEEPING_DIRTY.has(rel.name)) return rel.call;
  const put = rel.call.parent;
  const page = releasedPage(rel) ?? rel.args[0];
  const stmt = put && dirtyBefore(put, page.text)?.stmt;
  return stmt?.descendantsOfType('call_expression').find((c) => callName(c) === via);
}
