/**
 * Mutation operators for the simulator's mutation test suite.
 *
 * Each operator takes a fixture's before.c and its correct conversion (after.6.5.c) and returns
 * deliberately wrong variants of the conversion ("mutants"), each differing from the correct one
 * in exactly one respect. The simulator must report every mutant `not-equivalent` to before.c,
 * for one of the reasons listed with the operator.
 *
 * The operators are text based but locate what they edit with tree-sitter (the project's
 * kernel-tolerant parser) and with a line diff of before → after, so they only touch code the
 * conversion wrote (or the statements around it) and keep kernel formatting (tabs, one
 * statement per line).
 *
 * Vocabulary used below:
 * - *converted release*: an unpin_user_page(), unpin_user_pages() or
 *   unpin_user_pages_dirty_lock() call on a line the conversion added;
 * - *converted acquire*: a pin_user_pages*() call on a line the conversion added;
 * - *release helper*: a function of the file that contains a converted release, or calls a
 *   release helper, and pins nothing itself (e.g. hfi1_release_user_pages());
 * - *release unit*: a statement that is just a call to a converted release or to a release
 *   helper — widened to the `if`/loop around it when it is that statement's unbraced body, so
 *   that deleting or duplicating it keeps the code well formed.
 */
import { diffLines } from 'diff';
import { parseC, type Node } from '../src/parse/kernel-c.ts';
import { acquireLayout } from '../src/sites/api.ts';
import { callArgs, callName, descendants } from '../src/sites/ast.ts';
import type { DivergenceReason } from '../src/sim/verdict.ts';

export const KINDS = [
  'drop-dirty',
  'force-dirty',
  'wrong-count',
  'off-by-one',
  'unpin-never-pinned',
  'release-not-acquire',
  'acquire-not-release',
  'lose-null-store',
  'success-path-only',
  'swap-args',
  'put-page-on-pinned',
  'double-release',
  'drop-release',
  'leave-release-kind',
  'drop-null-check',
  'requested-count',
  'notifier-unpin',
  'switch-release-only',
] as const;

export type MutationKind = (typeof KINDS)[number] | 'convert-anyway';

export interface MutationOperator {
  kind: MutationKind;
  /** One line: what the wrong rewrite does. */
  describe: string;
  /** Divergence reasons that count as "the right reason" for this kind. */
  reasons: DivergenceReason[];
  /** Mutants of `after` (the correct conversion of `before`); each differs from `after`. */
  apply(before: string, after: string): string[];
}

// ---------------------------------------------------------------------------------------------
// Text helpers

const splice = (text: string, start: number, end: number, insert: string) =>
  text.slice(0, start) + insert + text.slice(end);

const lineStartAt = (text: string, index: number) => text.lastIndexOf('\n', index - 1) + 1;

/** Index just past the newline ending the line that contains `index - 1`. */
function lineEndAt(text: string, index: number): number {
  const nl = text.indexOf('\n', index);
  return nl < 0 ? text.length : nl + 1;
}

const indentOf = (text: string, index: number) => /^[ \t]*/.exec(text.slice(lineStartAt(text, index)))![0];

/** The source text of `node`, taken from the original (not the parser-tolerated) text. */
const src = (text: string, node: Node) => text.slice(node.startIndex, node.endIndex);

const norm = (s: string) => s.replace(/\s+/g, '');

/** Line span [start, end) of `node` if it sits alone on its lines (a trailing comment is fine). */
function ownLines(text: string, node: Node): [number, number] | undefined {
  const start = lineStartAt(text, node.startIndex);
  const end = lineEndAt(text, node.endIndex);
  if (text.slice(start, node.startIndex).trim() !== '') return undefined;
  const rest = text.slice(node.endIndex, end).trim();
  if (rest !== '' && !rest.startsWith('/*') && !rest.startsWith('//')) return undefined;
  return [start, end];
}

function deleteStatement(text: string, node: Node): string {
  const lines = ownLines(text, node);
  return lines ? splice(text, lines[0], lines[1], '') : splice(text, node.startIndex, node.endIndex, '');
}

function duplicateStatement(text: string, node: Node): string {
  const lines = ownLines(text, node);
  if (lines) return splice(text, lines[1], lines[1], text.slice(lines[0], lines[1]));
  const s = src(text, node);
  return splice(text, node.endIndex, node.endIndex, ` ${s}`);
}

/** `&x` for a simple lvalue, `&(x)` otherwise; `&x` → `x` is handled by `derefOf`. */
const addrOf = (x: string) => (/^[\w\s]+(\s*(->|\.)\s*\w+|\[[^\]]*\])*$/.test(x.trim()) ? `&${x.trim()}` : `&(${x.trim()})`);

/** `x` for `&x`, `*(p)` otherwise. */
function derefOf(p: string): string {
  const t = p.trim();
  if (t.startsWith('&') && !t.startsWith('&&')) return t.slice(1).trim();
  return `*(${t})`;
}


// ---------------------------------------------------------------------------------------------
// Analysis of a before/after pair

const RELEASE_NAMES = new Set(['unpin_user_page', 'unpin_user_pages', 'unpin_user_pages_dirty_lock']);
const ACQUIRE_RE = /^(?:get|pin)_user_pages(?:_fast|_remote|_unlocked|_locked|_longterm|_fast_only)?$|^__get_user_pages_fast$/;
export interface Hunk {
  /** Line ranges [from, to) in before and after. */
  bFrom: number;
  bTo: number;
  aFrom: number;
  aTo: number;
}

/** Changed line ranges of before → after. */
export function hunks(before: string, after: string): Hunk[] {
  const out: Hunk[] = [];
  let b = 0;
  let a = 0;
  let cur: Hunk | undefined;
  for (const part of diffLines(before, after)) {
    const n = part.count ?? part.value.split('\n').length - 1;
    if (!part.added && !part.removed) {
      if (cur) out.push(cur);
      cur = undefined;
      b += n;
      a += n;
      continue;
    }
    cur ??= { bFrom: b, bTo: b, aFrom: a, aTo: a };
    if (part.removed) cur.bTo = b += n;
    else cur.aTo = a += n;
  }
  if (cur) out.push(cur);
  return out;
}

/** Start offset of every line (plus one past the end). */
function lineOffsets(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  if (starts[starts.length - 1] !== text.length) starts.push(text.length);
  return starts;
}

const linesText = (text: string, from: number, to: number) => {
  const o = lineOffsets(text);
  return text.slice(o[Math.min(from, o.length - 1)], o[Math.min(to, o.length - 1)]);
};

interface Fn {
  name: string;
  node: Node;
}

interface ReleaseUnit {
  /** The release call (converted release or release-helper call). */
  call: Node;
  converted: boolean;
  /** What deleting/duplicating the release removes/copies: its statement, or the unbraced if/loop around it. */
  unit: Node;
  fn: Fn;
}

interface Analysis {
  after: string;
  root: Node;
  hunks: Hunk[];
  /** after rows (0-based) the conversion added. */
  added: Set<number>;
  fns: Fn[];
  calls: Node[];
  releases: Node[];
  acquires: Node[];
  releaseHelpers: Set<string>;
  acquireHelpers: Set<string>;
  units: ReleaseUnit[];
}

function fnName(def: Node): string {
  let d: Node | null = def.childForFieldName('declarator');
  while (d && d.type !== 'function_declarator') d = d.childForFieldName('declarator');
  const id = d?.childForFieldName('declarator');
  return id ? id.text : '';
}

const cache = new Map<string, Analysis>();

function analyzePair(before: string, after: string): Analysis {
  const key = `${before}\u0000${after}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const root = parseC(after).rootNode;
  const hs = hunks(before, after);
  const added = new Set<number>();
  for (const h of hs) for (let r = h.aFrom; r < h.aTo; r++) added.add(r);
  const fns: Fn[] = root.descendantsOfType('function_definition').map((node) => ({ name: fnName(node), node }));
  const fnAt = (n: Node) => fns.find((f) => f.node.startIndex <= n.startIndex && n.endIndex <= f.node.endIndex);
  const calls = root.descendantsOfType('call_expression');
  const isAdded = (n: Node) => {
    for (let r = n.startPosition.row; r <= n.endPosition.row; r++) if (added.has(r)) return true;
    return false;
  };
  const releases = calls.filter((c) => RELEASE_NAMES.has(callName(c) ?? '') && added.has(c.startPosition.row));
  const acquires = calls.filter((c) => /^pin_user_pages/.test(callName(c) ?? '') && isAdded(c));

  const acquireHelpers = new Set<string>();
  for (const c of acquires) {
    const f = fnAt(c);
    if (f) acquireHelpers.add(f.name);
  }
  const releaseHelpers = new Set<string>();
  for (const c of releases) {
    const f = fnAt(c);
    if (f) releaseHelpers.add(f.name);
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (const c of calls) {
      const f = fnAt(c);
      const name = callName(c) ?? '';
      if (!f) continue;
      if (acquireHelpers.has(name) && !acquireHelpers.has(f.name)) acquireHelpers.add(f.name), (changed = true);
      if (releaseHelpers.has(name) && !releaseHelpers.has(f.name)) releaseHelpers.add(f.name), (changed = true);
    }
  }
  for (const a of acquireHelpers) releaseHelpers.delete(a);

  const units: ReleaseUnit[] = [];
  for (const call of calls) {
    const name = callName(call) ?? '';
    const converted = releases.includes(call);
    if (!converted && !releaseHelpers.has(name)) continue;
    const stmt = call.parent;
    if (stmt?.type !== 'expression_statement') continue;
    const fn = fnAt(call);
    if (!fn) continue;
    let unit: Node = stmt;
    for (;;) {
      const p = unit.parent;
      if (p?.type === 'if_statement' && p.childForFieldName('consequence')?.id === unit.id && !p.childForFieldName('alternative')) {
        unit = p;
        continue;
      }
      if ((p?.type === 'for_statement' || p?.type === 'while_statement') && p.childForFieldName('body')?.id === unit.id) {
        unit = p;
        continue;
      }
      break;
    }
    units.push({ call, converted, unit, fn });
  }
  const analysis: Analysis = {
    after, root, hunks: hs, added, fns, calls, releases, acquires, releaseHelpers, acquireHelpers, units,
  };
  cache.set(key, analysis);
  return analysis;
}

/** Arguments of a converted release by role. */
function releaseArgs(call: Node): { name: string; page?: Node; pages?: Node; count?: Node; dirty?: Node } {
  const name = callName(call) ?? '';
  const args = callArgs(call);
  if (name === 'unpin_user_page') return { name, page: args[0] };
  if (name === 'unpin_user_pages') return { name, pages: args[0], count: args[1] };
  return { name, pages: args[0], count: args[1], dirty: args[2] };
}

const isFalse = (t: string) => /^(false|0)$/.test(norm(t));
const isTrue = (t: string) => /^(true|1)$/.test(norm(t));

/** A condition that tests for failure: `ret < 0`, `got != n`, `ret`, `IS_ERR(x)`, `dma_mapping_error(…)`. */
function errorCondition(cond: string): boolean {
  const t = norm(cond).replace(/^\((.*)\)$/, '$1');
  return (
    /(^|[^<])<([^<]|$)/.test(t) ||
    t.includes('!=') ||
    /IS_ERR|_error\(/.test(t) ||
    /^(ret|err|rv|rc|retval|error)$/.test(t)
  );
}

/** Does a branch give up: goto, break, return an error (or nothing), or set a negative errno? */
function branchBails(text: string, branch: Node): boolean {
  for (const d of descendants(branch)) {
    if (d.type === 'goto_statement' || d.type === 'break_statement') return true;
    // `return 1;` at the end of a successful branch is not giving up.
    if (d.type === 'return_statement' && /^(-\s*E[A-Z]|ERR_PTR\b|(ret|err|rv|rc|retval|error)\b|$)/.test(src(text, d).replace(/^return\s*/, '').replace(/;$/, '').trim()))
      return true;
    if (d.type === 'assignment_expression' && /^-\s*E[A-Z]/.test(src(text, d.childForFieldName('right')!).trim())) return true;
  }
  return false;
}

/** Is the release unit on an error path (an error branch, or a label only reached by goto)? */
function onErrorPath(a: Analysis, u: ReleaseUnit): boolean {
  const text = a.after;
  if (u.unit.type === 'if_statement' && errorCondition(src(text, u.unit.childForFieldName('condition')!))) return true;
  const body = u.fn.node.childForFieldName('body')!;
  let top: Node = u.unit;
  for (let n: Node = u.unit; n.parent && n.id !== body.id; n = n.parent) {
    const p = n.parent;
    if (p.type === 'if_statement' && p.childForFieldName('consequence')?.id === n.id) {
      if (errorCondition(src(text, p.childForFieldName('condition')!)) || branchBails(text, n)) return true;
    }
    if (p.id === body.id) top = n;
  }
  // A label whose preceding statement cannot fall through into it.
  const siblings = body.namedChildren;
  for (let i = siblings.findIndex((s) => s.id === top.id); i >= 0; i--) {
    if (siblings[i].type !== 'labeled_statement') continue;
    const prev = siblings[i - 1];
    return !!prev && (prev.type === 'return_statement' || prev.type === 'goto_statement');
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Mutant builders

/** Replace one argument of a call. */
const replaceNode = (text: string, node: Node, insert: string) => splice(text, node.startIndex, node.endIndex, insert);

/** Release loops: `for (i = …; i < N; …)` whose body releases (converted or helper) and acquires nothing. */
function releaseLoopBounds(a: Analysis): Array<{ cond: Node; op: Node; right: Node }> {
  const out: Array<{ cond: Node; op: Node; right: Node }> = [];
  for (const loop of a.root.descendantsOfType('for_statement')) {
    const body = loop.childForFieldName('body');
    if (!body) continue;
    const inBody = a.calls.filter((c) => c.startIndex >= body.startIndex && c.endIndex <= body.endIndex);
    const releases = inBody.some((c) => a.releases.includes(c) || a.releaseHelpers.has(callName(c) ?? ''));
    const acquires = inBody.some((c) => a.acquires.includes(c) || a.acquireHelpers.has(callName(c) ?? ''));
    if (!releases || acquires) continue;
    const init = loop.childForFieldName('initializer');
    const cond = loop.childForFieldName('condition');
    if (!init || cond?.type !== 'binary_expression') continue;
    const op = cond.child(1);
    if (op?.type !== '<') continue;
    const idx =
      init.type === 'assignment_expression'
        ? init.childForFieldName('left')?.text
        : init.descendantsOfType('init_declarator')[0]?.childForFieldName('declarator')?.text;
    if (!idx || norm(cond.childForFieldName('left')!.text) !== norm(idx)) continue;
    out.push({ cond, op, right: cond.childForFieldName('right')! });
  }
  return out;
}

const uniq = (after: string, mutants: string[]) => [...new Set(mutants)].filter((m) => m !== after);

// ---------------------------------------------------------------------------------------------
// The operators

const dropDirty: MutationOperator = {
  kind: 'drop-dirty',
  describe: 'make_dirty of a converted unpin_user_pages_dirty_lock() → false',
  reasons: ['dirty'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const out: string[] = [];
    for (const c of a.releases) {
      const { dirty } = releaseArgs(c);
      if (dirty && !isFalse(src(after, dirty))) out.push(replaceNode(after, dirty, 'false'));
    }
    return uniq(after, out);
  },
};

const forceDirty: MutationOperator = {
  kind: 'force-dirty',
  describe:
    'dirty pages the conversion leaves clean: make_dirty → true, unpin_user_pages(p, n) → ' +
    'unpin_user_pages_dirty_lock(p, n, true), unpin_user_page(p) → unpin_user_pages_dirty_lock(&p, 1, true)',
  // Under a spinlock the forced dirtying also takes the page lock where the original did not:
  // the sleep in atomic context is reported before the dirty pages.
  reasons: ['dirty', 'sleep-in-atomic'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const out: string[] = [];
    for (const c of a.releases) {
      const r = releaseArgs(c);
      if (r.dirty) {
        if (!isTrue(src(after, r.dirty))) out.push(replaceNode(after, r.dirty, 'true'));
      } else if (r.pages && r.count) {
        out.push(replaceNode(after, c, `unpin_user_pages_dirty_lock(${src(after, r.pages)}, ${src(after, r.count)}, true)`));
      } else if (r.page && !src(after, r.page).includes('(')) {
        // (A call's result, `compound_head(p)`, has no address to pass.)
        out.push(replaceNode(after, c, `unpin_user_pages_dirty_lock(${addrOf(src(after, r.page))}, 1, true)`));
      }
    }
    return uniq(after, out);
  },
};

const wrongCount: MutationOperator = {
  kind: 'wrong-count',
  describe: 'release half the pages: count argument → (count) / 2, or a release loop bound N → (N) / 2',
  // Half the pages stay pinned: a leak. When the lost releases were also dirtying, the dirty set
  // differs as well and a simulator that compares page flags before refcounts reports that first.
  reasons: ['leak', 'dirty'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const out: string[] = [];
    for (const c of a.releases) {
      const { count } = releaseArgs(c);
      if (count) out.push(replaceNode(after, count, `(${src(after, count)}) / 2`));
    }
    for (const l of releaseLoopBounds(a)) out.push(replaceNode(after, l.right, `(${src(after, l.right)}) / 2`));
    return uniq(after, out);
  },
};

const offByOne: MutationOperator = {
  kind: 'off-by-one',
  describe: 'release one page too many: count argument → (count) + 1, or `<` → `<=` in a release loop bound',
  // The extra slot is one the pin never filled: past the array (kcalloc'd to the pinned count)
  // or a NULL/stale entry, so depending on the memory behind it the simulator sees an unpin of
  // a page that was not pinned, a NULL/out-of-range access (fault), or — where the slot holds a
  // page released elsewhere (hfi1's [0, i) + [i, n) split) — a second release of that page.
  reasons: ['unpin-not-pinned', 'fault', 'over-release', 'use-after-release'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const out: string[] = [];
    for (const c of a.releases) {
      const { count } = releaseArgs(c);
      if (count) out.push(replaceNode(after, count, `(${src(after, count)}) + 1`));
    }
    for (const l of releaseLoopBounds(a)) out.push(replaceNode(after, l.op, '<='));
    return uniq(after, out);
  },
};

/** put_page()/release_pages() calls the conversion left alone (pages not from GUP), each with its unpin. */
function unchangedPutCalls(a: Analysis): Array<{ call: Node; replacement: string }> {
  const out: Array<{ call: Node; replacement: string }> = [];
  for (const c of a.calls) {
    const name = callName(c);
    if ((name !== 'put_page' && name !== 'release_pages') || a.added.has(c.startPosition.row)) continue;
    const args = callArgs(c);
    const replacement =
      name === 'put_page' ? `unpin_user_page(${src(a.after, args[0])})` : `unpin_user_pages(${args.map((x) => src(a.after, x)).join(', ')})`;
    out.push({ call: c, replacement });
  }
  return out;
}

/** The left-alone puts, each converted to an unpin: one mutant per site. */
const unchangedPutSites = (a: Analysis): string[] => unchangedPutCalls(a).map((s) => replaceNode(a.after, s.call, s.replacement));

const unpinNeverPinned: MutationOperator = {
  kind: 'unpin-never-pinned',
  describe:
    'unpin pages that were never pinned: a put_page()/release_pages() of non-GUP pages → unpin; on a ' +
    'short-pin path the pinned count → the requested count; otherwise an unpin of a freshly allocated page',
  // Converting a non-GUP put or unpinning a fresh alloc_page() is a plain unpin-not-pinned. The
  // short-pin variant unpins the slots [got, requested) the pin never filled: NULL in a
  // kcalloc'd array (unpin-not-pinned, or a fault on the NULL entry), or uninitialised in a stack
  // or kmalloc_array() array, where the simulator sees a release of a page of unknown origin that
  // nobody acquired: over-release.
  reasons: ['unpin-not-pinned', 'fault', 'over-release'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const out = unchangedPutSites(a);
    // Short-pin path: release count is the pin result, inside a branch testing it against less.
    for (const c of a.releases) {
      const { count } = releaseArgs(c);
      if (!count) continue;
      const fn = a.fns.find((f) => f.node.startIndex <= c.startIndex && c.endIndex <= f.node.endIndex);
      if (!fn) continue;
      for (const acq of a.acquires) {
        if (acq.startIndex < fn.node.startIndex || acq.endIndex > fn.node.endIndex) continue;
        const p = acq.parent;
        const v = p?.type === 'assignment_expression' ? p.childForFieldName('left') : undefined;
        if (!v || norm(v.text) !== norm(src(after, count))) continue;
        const layout = acquireLayout(callName(acq)!, callArgs(acq));
        const requested = layout && callArgs(acq)[layout.count];
        if (!requested || norm(src(after, requested)) === norm(v.text)) continue;
        let shortPath = false;
        for (let n: Node | null = c; n && n.id !== fn.node.id; n = n.parent) {
          const q = n.parent;
          if (q?.type === 'if_statement' && q.childForFieldName('consequence')?.id === n.id) {
            const cond = src(after, q.childForFieldName('condition')!);
            if (new RegExp(`\\b${v.text}\\b`).test(cond) && (/(^|[^<])<([^<]|$)/.test(cond) || cond.includes('!='))) shortPath = true;
          }
        }
        if (shortPath) out.push(replaceNode(after, count, src(after, requested)));
      }
    }
    if (out.length === 0) {
      const u = a.units.find((x) => x.converted);
      if (u) {
        const lines = ownLines(after, u.unit);
        const at = lines ? lines[1] : lineEndAt(after, u.unit.endIndex);
        out.push(splice(after, at, at, `${indentOf(after, u.unit.startIndex)}unpin_user_page(alloc_page(GFP_KERNEL));\n`));
      }
    }
    return uniq(after, out);
  },
};

/** GUP/pin calls of a text, in order. */
function acquireCalls(root: Node): Node[] {
  return root.descendantsOfType('call_expression').filter((c) => ACQUIRE_RE.test(callName(c) ?? ''));
}

const releaseNotAcquire: MutationOperator = {
  kind: 'release-not-acquire',
  describe: 'convert the releases but not the acquire: one pin_user_pages*() → its get_user_pages*() call from before.c',
  // The converted releases now unpin pages taken with FOLL_GET.
  reasons: ['unpin-not-pinned'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const b = acquireCalls(parseC(before).rootNode);
    const aa = acquireCalls(a.root);
    if (b.length !== aa.length) return [];
    const out: string[] = [];
    aa.forEach((call, i) => {
      if (!a.acquires.includes(call) || !/^(get_|__get_)/.test(callName(b[i]) ?? '')) return;
      out.push(replaceNode(after, call, src(before, b[i])));
    });
    return uniq(after, out);
  },
};

const DECL_LINE = /^\s*(?:(?:unsigned|signed|const|struct|long|short|int|char|size_t|ssize_t|u\d+|s\d+|bool)\b[\w\s]*)[\s*]*[A-Za-z_]\w*(?:\s*,\s*\**\s*[A-Za-z_]\w*)*\s*;\s*$/;

const acquireNotRelease: MutationOperator = {
  kind: 'acquire-not-release',
  describe: 'convert the acquire but not one release: revert one converted release to its before.c text',
  // The reverted put_page()/release_pages() drops a plain reference from a FOLL_PIN page.
  reasons: ['put-on-pinned'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const bLines = before.split('\n');
    const out: string[] = [];
    const acquireRows = new Set(a.acquires.map((c) => c.startPosition.row));
    const aLines = after.split('\n');
    const hasRelease = (h: Hunk) => a.releases.some((c) => c.startPosition.row >= h.aFrom && c.startPosition.row < h.aTo);
    const hasAcquire = (h: Hunk) => [...acquireRows].some((r) => r >= h.aFrom && r < h.aTo);
    const blankGap = (p: Hunk, q: Hunk) => aLines.slice(p.aTo, q.aFrom).every((l) => l.trim() === '');
    for (const [k, h0] of a.hunks.entries()) {
      if (!hasRelease(h0) || hasAcquire(h0)) continue;
      // The line diff may split one replaced loop into hunks separated by a blank line the
      // two sides share (`size_t i;` / blank / loop → unpin / blank): merge those back.
      const h = { ...h0 };
      for (let j = k + 1; j < a.hunks.length; j++) {
        const n = a.hunks[j];
        if (!blankGap(h, n) || hasRelease(n) || hasAcquire(n)) break;
        Object.assign(h, { bTo: n.bTo, aTo: n.aTo });
      }
      for (let j = k - 1; j >= 0; j--) {
        const n = a.hunks[j];
        if (!blankGap(n, h) || hasRelease(n) || hasAcquire(n)) break;
        Object.assign(h, { bFrom: n.bFrom, aFrom: n.aFrom });
      }
      const restored = linesText(before, h.bFrom, h.bTo);
      // Loop counters the reverted loop needs, whose declaration the conversion deleted.
      const loopVars = [...restored.matchAll(/\bfor\s*\(\s*([A-Za-z_]\w*)\s*=/g)].map((m) => m[1]);
      const fn = a.fns.find((f) => f.node.startPosition.row <= h.aFrom && h.aFrom <= f.node.endPosition.row);
      const extra = a.hunks.filter((o) => {
        if ((o.aFrom >= h.aFrom && o.aTo <= h.aTo && o.bFrom >= h.bFrom && o.bTo <= h.bTo) || !fn) return false;
        if (o.aFrom < fn.node.startPosition.row || o.aFrom > fn.node.endPosition.row) return false;
        const bl = bLines.slice(o.bFrom, o.bTo);
        const al = aLines.slice(o.aFrom, o.aTo);
        if (![...bl, ...al].every((l) => l.trim() === '' || DECL_LINE.test(l))) return false;
        return loopVars.some((v) => bl.some((l) => new RegExp(`\\b${v}\\b`).test(l)) && !al.some((l) => new RegExp(`\\b${v}\\b`).test(l)));
      });
      // Apply from the bottom so earlier offsets stay valid.
      let m = after;
      for (const x of [h, ...extra].sort((p, q) => q.aFrom - p.aFrom)) {
        const o = lineOffsets(m);
        m = splice(m, o[x.aFrom], o[x.aTo], linesText(before, x.bFrom, x.bTo));
      }
      out.push(m);
    }
    return uniq(after, out);
  },
};

/**
 * Does `lv` name the released pages of `call`: an argument itself (`tb->pages`), the slot of
 * `&a[i]` (`a[i]`), or a page-array field of an object argument (`tidbuf->pages` for
 * `unpin_rcv_pages(fd, tidbuf, …)`)?
 */
function namesReleased(text: string, call: Node, converted: boolean, lv: string): boolean {
  const args = callArgs(call).map((x) => norm(src(text, x)));
  const l = norm(lv);
  const candidates = converted ? [args[0]] : args;
  if (candidates.some((x) => x === l || x === `&${l}` || x === `&(${l})`)) return true;
  if (converted) return false;
  const m = /^([A-Za-z_]\w*)(->|\.)(\w+)$/.exec(l);
  return !!m && args.includes(m[1]) && /pa?ge?s?|pgs|plist/i.test(m[3]);
}

const loseNullStore: MutationOperator = {
  kind: 'lose-null-store',
  describe: 'drop a `x = NULL;` store kept right after a release of x (a page slot or page-array field)',
  // Only memory differs: the slot/field keeps a pointer to a released page or freed array.
  reasons: ['memory'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const out: string[] = [];
    for (const u of a.units) {
      const parent = u.unit.parent;
      if (!parent) continue;
      const sibs = parent.namedChildren;
      const at = sibs.findIndex((s) => s.id === u.unit.id);
      for (let i = at + 1, seen = 0; i < sibs.length && seen < 4; i++, seen++) {
        const s = sibs[i];
        if (['labeled_statement', 'return_statement', 'goto_statement', 'break_statement'].includes(s.type)) break;
        if (s.type !== 'expression_statement') continue;
        const e = s.firstNamedChild;
        if (e?.type !== 'assignment_expression' || norm(src(after, e.childForFieldName('right')!)) !== 'NULL') continue;
        if (namesReleased(after, u.call, u.converted, src(after, e.childForFieldName('left')!))) out.push(deleteStatement(after, s));
      }
    }
    return uniq(after, out);
  },
};

const successPathOnly: MutationOperator = {
  kind: 'success-path-only',
  describe: 'release only on the success path: delete a release on an error branch or error label',
  // The pages pinned before the failure are never released. If the deleted release also
  // dirtied, the dirty set differs too (reported first by some simulators).
  reasons: ['leak', 'dirty'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const errors = a.units.filter((u) => onErrorPath(a, u));
    if (!a.units.some((u) => !onErrorPath(a, u))) return [];
    const seen = new Set<number>();
    const out: string[] = [];
    for (const u of errors) {
      if (seen.has(u.unit.id)) continue;
      seen.add(u.unit.id);
      out.push(deleteStatement(after, u.unit));
    }
    return uniq(after, out);
  },
};

const swapArgs: MutationOperator = {
  kind: 'swap-args',
  describe: 'swap count and make_dirty of a converted unpin_user_pages_dirty_lock()',
  // count becomes make_dirty (0/1) and make_dirty the count. With a real count ≥ 2 pages leak
  // and/or the dirty set changes, whichever the simulator checks first. With a real count of 0
  // (nothing pinned: a failed or empty pin) the swapped count 1 releases slot 0, which holds no
  // pin (NULL or stale) or a page released elsewhere: unpin-not-pinned, fault or over-release.
  // vfio's make_dirty `prot & IOMMU_WRITE` is 2 when set, so the swapped count overruns `&page`.
  reasons: ['leak', 'dirty', 'unpin-not-pinned', 'over-release', 'fault'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const out: string[] = [];
    for (const c of a.releases) {
      const { count, dirty } = releaseArgs(c);
      if (!count || !dirty) continue;
      const n = src(after, count);
      const d = src(after, dirty);
      // (p, 1, true) ↔ (p, true, 1) is the same call.
      if (norm(n) === norm(d) || (isTrue(n) && isTrue(d))) continue;
      out.push(splice(splice(after, dirty.startIndex, dirty.endIndex, n), count.startIndex, count.endIndex, d));
    }
    return uniq(after, out);
  },
};

const putPageOnPinned: MutationOperator = {
  kind: 'put-page-on-pinned',
  describe:
    'release pinned pages with the get_user_pages() API: unpin_user_page(x) → put_page(x), ' +
    'unpin_user_pages(p, n) → release_pages(p, n), unpin_user_pages_dirty_lock(&x, 1, c) → ' +
    '`if (c) set_page_dirty_lock(x); put_page(x);`, unpin_user_pages_dirty_lock(p, n, c) → release_pages(p, n)',
  // put_page() on a FOLL_PIN page. For the array form with make_dirty ≠ false there is no
  // dirtying release_pages(), so the pages also stay clean and a simulator may report 'dirty' first.
  reasons: ['put-on-pinned', 'dirty'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const out: string[] = [];
    for (const c of a.releases) {
      const r = releaseArgs(c);
      if (r.page) {
        out.push(replaceNode(after, c, `put_page(${src(after, r.page)})`));
        continue;
      }
      const p = src(after, r.pages!);
      const n = src(after, r.count!);
      if (!r.dirty) {
        out.push(replaceNode(after, c, `release_pages(${p}, ${n})`));
        continue;
      }
      const d = src(after, r.dirty);
      const single = norm(n) === '1' && p.trim().startsWith('&');
      const stmt = c.parent;
      if (!single || stmt?.type !== 'expression_statement' || !ownLines(after, stmt) || stmt.parent?.type !== 'compound_statement') {
        out.push(replaceNode(after, c, `release_pages(${p}, ${n})`));
        continue;
      }
      const x = derefOf(p);
      const ind = indentOf(after, stmt.startIndex);
      const text = isFalse(d)
        ? `put_page(${x});`
        : isTrue(d)
          ? `set_page_dirty_lock(${x});\n${ind}put_page(${x});`
          : `if (${d})\n${ind}\tset_page_dirty_lock(${x});\n${ind}put_page(${x});`;
      out.push(replaceNode(after, stmt, text));
    }
    return uniq(after, out);
  },
};

const doubleRelease: MutationOperator = {
  kind: 'double-release',
  describe: 'duplicate a converted release statement',
  // The second unpin drops a pin that is already gone; a simulator that poisons released pages
  // sees the second call touch a released page first.
  reasons: ['over-release', 'use-after-release'],
  apply(before, after) {
    const a = analyzePair(before, after);
    return uniq(after, a.units.filter((u) => u.converted).map((u) => duplicateStatement(after, u.unit)));
  },
};

const dropRelease: MutationOperator = {
  kind: 'drop-release',
  describe: 'delete a converted release statement',
  // The pages stay pinned; when the release was dirtying, the dirty set differs too.
  reasons: ['leak', 'dirty'],
  apply(before, after) {
    const a = analyzePair(before, after);
    return uniq(after, a.units.filter((u) => u.converted).map((u) => deleteStatement(after, u.unit)));
  },
};

/** Single-page puts of before.c other than put_page(), by the page they drop (whitespace-free). */
const OTHER_PUTS: Array<[RegExp, (page: string) => string]> = [
  [/^__free_page\((.+)\)$/, (p) => `__free_page(${p})`],
  [/^__free_pages\((.+),0\)$/, (p) => `__free_pages(${p}, 0)`],
  [/^folio_put\(page_folio\((.+)\)\)$/, (p) => `folio_put(page_folio(${p}))`],
  [/^free_page\(\(unsignedlong\)page_address\((.+)\)\)$/, (p) => `free_page((unsigned long)page_address(${p}))`],
  [/^page_cache_release\((.+)\)$/, (p) => `page_cache_release(${p})`],
];

const leaveReleaseKind: MutationOperator = {
  kind: 'leave-release-kind',
  describe:
    'leave one of the other ways before.c dropped a page (__free_page(x), __free_pages(x, 0), ' +
    'folio_put(page_folio(x)), free_page((unsigned long)page_address(x))) on a pinned page: ' +
    'unpin_user_page(x) goes back to it',
  reasons: ['put-on-pinned'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const kinds = new Map<string, string>();
    for (const c of parseC(before).rootNode.descendantsOfType('call_expression'))
      for (const [re, write] of OTHER_PUTS) {
        const m = re.exec(norm(src(before, c)));
        if (m && !kinds.has(m[1])) kinds.set(m[1], write(m[1]));
      }
    const out: string[] = [];
    for (const c of a.releases) {
      if (callName(c) !== 'unpin_user_page') continue;
      const kind = kinds.get(norm(src(after, callArgs(c)[0])));
      if (kind) out.push(replaceNode(after, c, kind));
    }
    return uniq(after, out);
  },
};

/** Top-level `op`-joined operands of a condition, parentheses dropped. */
function operandsOf(cond: Node, op: '&&' | '||'): Node[] {
  let e = cond;
  while (e.type === 'parenthesized_expression' && e.namedChildCount === 1) e = e.namedChild(0)!;
  if (e.type === 'binary_expression' && e.child(1)?.type === op)
    return [...operandsOf(e.childForFieldName('left')!, op), ...operandsOf(e.childForFieldName('right')!, op)];
  return [e];
}

/** Does `node` name `x` other than as a call's argument (`x`, `!x`, `x != NULL`, `(x = a[i])`)? */
function testsValue(text: string, node: Node, x: string): boolean {
  return descendants(node).some((d) => {
    if (norm(src(text, d)) !== norm(x)) return false;
    for (let p = d.parent; p && p.id !== node.id; p = p.parent) if (p.type === 'argument_list') return false;
    return true;
  });
}

/** Does a statement always leave the loop iteration or the function? */
function leaves(s: Node): boolean {
  if (/^(continue|break|return|goto)_statement$/.test(s.type)) return true;
  const last = s.type === 'compound_statement' ? s.namedChildren.filter((c) => c.type !== 'comment').at(-1) : undefined;
  return !!last && leaves(last);
}

/** `cond` of `ifNode` with operand `o` made constant by `suffix` (`|| 1`, `&& 0`), its side effects kept. */
function constantOperand(text: string, ifNode: Node, o: Node, suffix: string): string {
  let whole = ifNode.childForFieldName('condition')!;
  while (whole.type === 'parenthesized_expression' && whole.namedChildCount === 1) whole = whole.namedChild(0)!;
  const low = /^(assignment|conditional|comma)_expression$/.test(o.type);
  const operand = low ? `(${src(text, o)})` : src(text, o);
  return replaceNode(text, o, whole.id === o.id ? `${operand} ${suffix}` : `(${operand} ${suffix})`);
}

const dropNullCheck: MutationOperator = {
  kind: 'drop-null-check',
  describe:
    'drop the NULL test a release loop keeps around a converted release: `if (x)` → `if (x || 1)`, ' +
    '`if (!x) continue;` → `if (!x && 0) continue;` (the assignment in `(x = a[i]) != NULL` still runs)',
  // The release reaches the slots a short pin never filled, as upstream's drm/via conversion
  // did: unpin_user_page(NULL) is an unpin of nothing pinned, the dirtying helper (or a page
  // test before it) on a NULL page a NULL dereference.
  reasons: ['unpin-not-pinned', 'fault'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const out: string[] = [];
    for (const c of a.releases) {
      const r = releaseArgs(c);
      const x = r.page ? src(after, r.page) : r.pages && r.count && norm(src(after, r.count)) === '1' ? derefOf(src(after, r.pages)) : undefined;
      if (!x) continue;
      // Slot tests of a release loop: an `if` around the release or an `if (…) continue;` before
      // it, in the loop's body. (A single page's `if (!ctx->page) return;` is for a teardown
      // called without its setup, which no session runs.)
      let loop: Node | null = c.parent;
      while (loop && loop.type !== 'function_definition' && !/^(for|while|do)_statement$/.test(loop.type)) loop = loop.parent;
      if (!loop || loop.type === 'function_definition') continue;
      for (let n: Node = c.parent!; n.parent && n.id !== loop.id; n = n.parent) {
        const p = n.parent;
        if (p.type === 'if_statement' && p.childForFieldName('consequence')?.id === n.id)
          for (const o of operandsOf(p.childForFieldName('condition')!, '&&')) if (testsValue(after, o, x)) out.push(constantOperand(after, p, o, '|| 1'));
        if (p.type === 'compound_statement') {
          for (const s of p.namedChildren) {
            if (s.startIndex >= n.startIndex) break;
            if (s.type !== 'if_statement' || s.childForFieldName('alternative') || !leaves(s.childForFieldName('consequence')!)) continue;
            for (const o of operandsOf(s.childForFieldName('condition')!, '||')) if (testsValue(after, o, x)) out.push(constantOperand(after, s, o, '&& 0'));
          }
        }
      }
    }
    return uniq(after, out);
  },
};


/**
 * Each converted acquire whose result is stored (`n = pin_…(…)`, `int n = pin_…(…)`): the pinned
 * count's text, the requested count's text and the function it is in.
 */
function pinnedCounts(a: Analysis): Array<{ pinned: string; requested: string; fn: Fn; at: number }> {
  const out: Array<{ pinned: string; requested: string; fn: Fn; at: number }> = [];
  for (const acq of a.acquires) {
    const fn = a.fns.find((f) => f.node.startIndex <= acq.startIndex && acq.endIndex <= f.node.endIndex);
    const p = acq.parent;
    const v =
      p?.type === 'assignment_expression' && p.childForFieldName('operator')?.text !== '+='
        ? p.childForFieldName('left')
        : p?.type === 'init_declarator'
          ? p.childForFieldName('declarator')
          : undefined;
    const layout = acquireLayout(callName(acq)!, callArgs(acq));
    const requested = layout && callArgs(acq)[layout.count];
    if (!fn || !v || !requested) continue;
    const pinned = norm(src(a.after, v));
    if (pinned !== norm(src(a.after, requested))) out.push({ pinned, requested: src(a.after, requested).trim(), fn, at: acq.startIndex });
  }
  return out;
}

const requestedCount: MutationOperator = {
  kind: 'requested-count',
  describe:
    'bound a release by the count asked of the acquire instead of the count it pinned: ' +
    '`unpin_user_pages(p, got)` → `unpin_user_pages(p, nr_pages)`, `i < got` → `i < nr_pages` in a release loop',
  // After a short pin the release walks slots the pin never filled: NULL in a zeroed array
  // (unpin-not-pinned, or a fault where the page is tested or dirtied first), a page of unknown
  // origin in an uninitialised one (over-release), or a slot an earlier error path released.
  reasons: ['over-release', 'unpin-not-pinned', 'fault', 'use-after-release'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const counts = pinnedCounts(a);
    // Locals are the acquiring function's; `buf->npinned` and `buf->npages` mean the same in
    // every function that names the object `buf` (a teardown helper).
    const field = (t: string) => /^([A-Za-z_]\w*)(->|\.)\w+$/.exec(t)?.[1];
    const inScope = (n: Node, fn: Fn, pinned: string, requested: string) =>
      (fn.node.startIndex <= n.startIndex && n.endIndex <= fn.node.endIndex) || (!!field(pinned) && field(pinned) === field(norm(requested)));
    // The acquire a count at `n` was stored by: the last one before it in its function that
    // stores to that name (one `retval` serves two pins in turn), else one in another function.
    const requestedFor = (n: Node, text: string) => {
      const cs = counts.filter((c) => c.pinned === norm(text) && inScope(n, c.fn, c.pinned, c.requested));
      const local = cs.filter((c) => c.fn.node.startIndex <= n.startIndex && n.endIndex <= c.fn.node.endIndex && c.at < n.startIndex);
      return (local.at(-1) ?? cs.find((c) => !(c.fn.node.startIndex <= n.startIndex && n.endIndex <= c.fn.node.endIndex)))?.requested;
    };
    const out: string[] = [];
    for (const u of a.units) {
      // A converted release's count, or the argument of a release helper that passes it.
      const args = u.converted ? [releaseArgs(u.call).count] : callArgs(u.call);
      for (const x of args) {
        const requested = x && requestedFor(u.call, src(after, x));
        if (requested) out.push(replaceNode(after, x!, requested));
      }
    }
    for (const l of releaseLoopBounds(a)) {
      const requested = requestedFor(l.cond, src(after, l.right));
      if (requested) out.push(replaceNode(after, l.right, requested));
    }
    // The short-pin release unpin-never-pinned already bounds by the requested count is its mutant.
    const taken = new Set(unpinNeverPinned.apply(before, after));
    return uniq(after, out).filter((m) => !taken.has(m));
  },
};

/** Does the file hand the mm an MMU-notifier callback (`.invalidate = fn` in its ops)? */
const NOTIFIER_OPS_RE = /\bstruct\s+mmu_(?:interval_)?notifier_ops\b[^;]*?\{[^}]*\.invalidate(?:_range_start)?\s*=/s;

const notifierUnpin: MutationOperator = {
  kind: 'notifier-unpin',
  describe:
    'unpin the pages of the group an MMU notifier manages: every put_page()/release_pages() the ' +
    'conversion left alone in a file with notifier ops → unpin_user_page()/unpin_user_pages(), its acquire kept',
  // Those pages were taken with FOLL_GET (get_user_pages_remote()): each unpin drops 1024 from a
  // page that holds one reference. A simulator may first see the device use pages
  // page_maybe_dma_pinned() does not report, once the run unpins.
  reasons: ['unpin-not-pinned', 'not-pinned'],
  apply(before, after) {
    if (!NOTIFIER_OPS_RE.test(after)) return [];
    const a = analyzePair(before, after);
    // All of them at once: the whole release side of the group, as a wrong conversion of it would be.
    const sites = unchangedPutCalls(a);
    if (!sites.length) return [];
    let m = after;
    for (const s of [...sites].sort((x, y) => y.call.startIndex - x.call.startIndex)) m = replaceNode(m, s.call, s.replacement);
    return uniq(after, [m]);
  },
};

/** Is `stmt`'s `case` reached by falling through from the case before it (no break/return/goto)? */
function fallsInto(caseNode: Node): boolean {
  const sw = caseNode.parent;
  if (!sw) return false;
  const cases = sw.namedChildren.filter((c) => c.type === 'case_statement');
  const i = cases.findIndex((c) => c.id === caseNode.id);
  if (i <= 0) return false;
  const body = cases[i - 1].namedChildren.filter((c) => c.type !== 'comment' && c.id !== cases[i - 1].childForFieldName('value')?.id);
  const last = body.at(-1);
  return !!last && !leaves(last);
}

const switchReleaseOnly: MutationOperator = {
  kind: 'switch-release-only',
  describe:
    'convert only a release that sits in a `switch` case reached by fall-through: before.c with that ' +
    'release converted, its acquire (and every other release) left as they were',
  // The release now unpins pages taken with FOLL_GET, on whichever path reaches it: the case
  // itself, or the cases above it falling through.
  reasons: ['unpin-not-pinned'],
  apply(before, after) {
    const a = analyzePair(before, after);
    const out: string[] = [];
    for (const c of a.releases) {
      let k: Node | null = c.parent;
      while (k && k.type !== 'case_statement' && k.type !== 'function_definition') k = k.parent;
      if (!k || k.type !== 'case_statement' || !fallsInto(k)) continue;
      // The hunk that wrote the release, applied to before.c alone.
      const h = a.hunks.find((x) => x.aFrom <= c.startPosition.row && c.startPosition.row < x.aTo);
      if (!h || a.acquires.some((q) => q.startPosition.row >= h.aFrom && q.startPosition.row < h.aTo)) continue;
      const o = lineOffsets(before);
      out.push(splice(before, o[h.bFrom], o[h.bTo], linesText(after, h.aFrom, h.aTo)));
    }
    // Where the acquire is the only other change, this is release-not-acquire's mutant.
    const taken = new Set(releaseNotAcquire.apply(before, after));
    return uniq(after, out).filter((m) => !taken.has(m));
  },
};

export const OPERATORS: MutationOperator[] = [
  dropDirty,
  forceDirty,
  wrongCount,
  offByOne,
  unpinNeverPinned,
  releaseNotAcquire,
  acquireNotRelease,
  loseNullStore,
  successPathOnly,
  swapArgs,
  putPageOnPinned,
  doubleRelease,
  dropRelease,
  leaveReleaseKind,
  dropNullCheck,
  requestedCount,
  notifierUnpin,
  switchReleaseOnly,
];

/**
 * Negative fixtures: do the conversion the tool refused, on the release side only. Every
 * put_page()/release_pages() the conversion left alone becomes unpin_user_page()/
 * unpin_user_pages(); the acquires stay as they are. One mutant per site; the test decides per
 * fixture which sites and which reasons apply.
 */
export const convertAnyway: MutationOperator = {
  kind: 'convert-anyway',
  describe: 'convert a refused put_page()/release_pages() to unpin_user_page()/unpin_user_pages() anyway',
  reasons: ['unpin-not-pinned'],
  apply(before, after) {
    return uniq(after, unchangedPutSites(analyzePair(before, after)));
  },
};

/** ERROR and MISSING nodes of a parse, for checking that mutants stay well formed. */
export function parseProblems(text: string): number {
  let n = 0;
  for (const d of descendants(parseC(text).rootNode)) if (d.type === 'ERROR' || d.isMissing) n++;
  return n;
}

