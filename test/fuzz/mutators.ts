/**
 * Fuzz inputs: a fixture's before.c with one to three mutations of the kinds real driver code
 * shows — a token gone, a macro call, comment or `#ifdef` block added, a variable renamed (all of
 * its uses or only some), two statements or lines swapped, the file cut short.
 *
 * A case is plain data (fixture, target, mutations with their position numbers) and `mutate`
 * is a pure function of it, so fast-check's counterexample is the whole reproducer. Positions
 * are naturals taken modulo the candidates of the text at that point: they shrink towards the
 * first candidate. Half of the mutations land near the GUP code (`near`), where they matter.
 */
import fc from 'fast-check';
import { parseC, type Node } from '../../src/parse/kernel-c.ts';
import { fixtureNames, read } from '../support.ts';

/** Every fixture's before.c, by fixture name. */
export function fixtureTexts(): Record<string, string> {
  return Object.fromEntries(fixtureNames().map((name) => [name, read(name, 'before.c')]));
}

export type Mutation =
  | { kind: 'drop-token'; at: number; near: boolean }
  /** A kernel macro call on a line of its own (`split`: wrapped around one identifier instead). */
  | { kind: 'macro'; at: number; pick: number; split: boolean; near: boolean }
  /** A comment on a line of its own (`split`: inside the line, between two tokens). */
  | { kind: 'comment'; at: number; pick: number; split: boolean; near: boolean }
  /** `#ifdef`…`#endif` around `lines` lines (0: an empty block), with the lines repeated in an `#else` branch if `orElse`. */
  | { kind: 'ifdef'; at: number; lines: number; pick: number; orElse: boolean; near: boolean }
  /** Renames an identifier: every use, or (`consistent` false) only the `at`-th. */
  | { kind: 'rename'; at: number; pick: number; consistent: boolean; near: boolean }
  | { kind: 'swap-lines'; at: number; near: boolean }
  | { kind: 'swap-statements'; at: number; near: boolean }
  | { kind: 'truncate'; at: number; near: boolean };

export interface FuzzCase {
  fixture: string;
  target: string;
  mutations: Mutation[];
}

const MACROS = [
  'might_sleep();',
  'lockdep_assert_held(&mm->mmap_lock);',
  'WARN_ON_ONCE(!pages);',
  'pr_debug("%s: %d\\n", __func__, ret);',
  'BUILD_BUG_ON(sizeof(struct page *) != sizeof(void *));',
  'cond_resched();',
  'spin_lock(&dev->lock);',
  'rcu_read_lock();',
  'mmap_read_lock(current->mm);',
  'trace_gup_pages(start, npages);',
];
const WRAPPERS = ['READ_ONCE', 'unlikely', 'likely', 'array_index_nospec', 'WARN_ON'];
const COMMENTS = ['/* XXX: see below */', '// FIXME', '/* put_page(page); */', '/*\n * get_user_pages() pins; keep in sync.\n */', '/* fallthrough */'];
const CONFIGS = ['#ifdef CONFIG_FOO', '#ifndef CONFIG_HIGHMEM', '#if IS_ENABLED(CONFIG_DEBUG_VM)', '#if 0'];
const NAMES = ['pages', 'npages', 'page', 'ret', 'i', 'nr', 'p', 'get_user_pages', 'put_page'];

const C_KEYWORDS = new Set(
  'auto break case char const continue default do double else enum extern float for goto if inline int long register return short signed sizeof static struct switch typedef union unsigned void volatile while bool true false NULL include define ifdef ifndef endif'.split(' '),
);

/** Lines worth mutating near: the API calls gup2pin looks at. */
const INTERESTING_RE = /\b(get_user_pages\w*|pin_user_pages\w*|put_page|put_user_pages?\w*|unpin_user_pages?\w*|set_page_dirty\w*|SetPageDirty|release_pages|for_each_sg)\b/;

const mutationArb: fc.Arbitrary<Mutation> = (() => {
  const at = fc.nat();
  const pick = fc.nat({ max: 15 });
  const near = fc.boolean();
  return fc.oneof(
    fc.record({ kind: fc.constant('drop-token' as const), at, near }),
    fc.record({ kind: fc.constant('macro' as const), at, pick, split: fc.boolean(), near }),
    fc.record({ kind: fc.constant('comment' as const), at, pick, split: fc.boolean(), near }),
    fc.record({ kind: fc.constant('ifdef' as const), at, lines: fc.nat({ max: 6 }), pick, orElse: fc.boolean(), near }),
    fc.record({ kind: fc.constant('rename' as const), at, pick, consistent: fc.boolean(), near }),
    fc.record({ kind: fc.constant('swap-lines' as const), at, near }),
    fc.record({ kind: fc.constant('swap-statements' as const), at, near }),
    fc.record({ kind: fc.constant('truncate' as const), at, near }),
  );
})();

/** Cases over the given fixtures and targets: 1–3 mutations each. */
export function fuzzCase(fixtures: string[], targets: string[]): fc.Arbitrary<FuzzCase> {
  return fc.record({
    fixture: fc.constantFrom(...fixtures),
    target: fc.constantFrom(...targets),
    mutations: fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
  });
}

interface Token {
  start: number;
  end: number;
  text: string;
}

const TOKEN_RE = /\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|[A-Za-z_]\w*|\d[\w.]*|->|\+\+|--|<<=?|>>=?|[<>!=+\-*/%&|^]=|&&|\|\||\S/g;

function tokens(text: string): Token[] {
  return [...text.matchAll(TOKEN_RE)].map((m) => ({ start: m.index!, end: m.index! + m[0].length, text: m[0] }));
}

const isIdentifier = (t: Token) => /^[A-Za-z_]\w*$/.test(t.text) && !C_KEYWORDS.has(t.text);

/** Offsets of line starts (the end of the text included, so appending counts). */
function lineStarts(text: string): number[] {
  const out = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) out.push(i + 1);
  return out;
}

/** Offsets within a few lines of an interesting one. */
function nearRanges(text: string): Array<[number, number]> {
  const starts = lineStarts(text);
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < starts.length; i++) {
    const end = starts[i + 1] ?? text.length;
    if (INTERESTING_RE.test(text.slice(starts[i], end))) ranges.push([starts[Math.max(0, i - 4)], starts[Math.min(starts.length - 1, i + 5)] ?? text.length]);
  }
  return ranges;
}

/** The `at`-th (modulo) of `items`, preferring those near the GUP code when `near`. */
function choose<T>(items: T[], at: number, near: boolean, text: string, offset: (t: T) => number): T | undefined {
  let pool = items;
  if (near) {
    const ranges = nearRanges(text);
    const close = items.filter((t) => ranges.some(([s, e]) => offset(t) >= s && offset(t) <= e));
    if (close.length) pool = close;
  }
  return pool.length ? pool[at % pool.length] : undefined;
}

const indentOf = (text: string, lineStart: number) => /^[ \t]*/.exec(text.slice(lineStart))![0];

const splice = (text: string, start: number, end: number, insert: string) => text.slice(0, start) + insert + text.slice(end);

/** Adjacent statement pairs of every block, for swapping. */
function statementPairs(text: string): Array<[Node, Node]> {
  const pairs: Array<[Node, Node]> = [];
  for (const block of parseC(text).rootNode.descendantsOfType('compound_statement')) {
    const stmts = block.namedChildren.filter((c) => c.type !== 'comment' && c.endIndex > c.startIndex);
    for (let i = 0; i + 1 < stmts.length; i++) pairs.push([stmts[i], stmts[i + 1]]);
  }
  return pairs;
}

/** One mutation applied to `text` (unchanged when the text offers no place for it). */
export function applyMutation(text: string, m: Mutation): string {
  switch (m.kind) {
    case 'drop-token': {
      const t = choose(tokens(text), m.at, m.near, text, (t) => t.start);
      return t ? splice(text, t.start, t.end, '') : text;
    }
    case 'macro': {
      if (m.split) {
        const t = choose(tokens(text).filter(isIdentifier), m.at, m.near, text, (t) => t.start);
        return t ? splice(text, t.start, t.end, `${WRAPPERS[m.pick % WRAPPERS.length]}(${t.text})`) : text;
      }
      const at = choose(lineStarts(text), m.at, m.near, text, (o) => o)!;
      return splice(text, at, at, `${indentOf(text, at) || '\t'}${MACROS[m.pick % MACROS.length]}\n`);
    }
    case 'comment': {
      const comment = COMMENTS[m.pick % COMMENTS.length];
      if (m.split) {
        // Between two tokens of a line: a line comment there would swallow the rest of the line.
        const t = choose(tokens(text).filter((t, i, all) => i > 0 && !text.slice(all[i - 1].end, t.start).includes('\n')), m.at, m.near, text, (t) => t.start);
        return t ? splice(text, t.start, t.start, `${comment.startsWith('//') ? '/* FIXME */' : comment} `) : text;
      }
      const at = choose(lineStarts(text), m.at, m.near, text, (o) => o)!;
      return splice(text, at, at, `${indentOf(text, at)}${comment.replaceAll('\n', `\n${indentOf(text, at)}`)}\n`);
    }
    case 'ifdef': {
      const starts = lineStarts(text);
      const first = choose(starts.map((_, i) => i), m.at, m.near, text, (i) => starts[i])!;
      const last = Math.min(first + m.lines, starts.length - 1);
      const body = text.slice(starts[first], starts[last]);
      const open = CONFIGS[m.pick % CONFIGS.length];
      const block = m.orElse ? `${open}\n${body}#else\n${body}#endif\n` : `${open}\n${body}#endif\n`;
      return splice(text, starts[first], starts[last], block);
    }
    case 'rename': {
      const all = tokens(text).filter(isIdentifier);
      const t = choose(all, m.at, m.near, text, (t) => t.start);
      if (!t) return text;
      // A name the code may already use (a clash), or past the list a fresh one.
      const known = NAMES[m.pick];
      const to = known && known !== t.text ? known : `${t.text}_${m.pick}`;
      const targets = m.consistent ? all.filter((u) => u.text === t.text) : [t];
      let out = text;
      for (const u of [...targets].reverse()) out = splice(out, u.start, u.end, to);
      return out;
    }
    case 'swap-lines': {
      const starts = lineStarts(text);
      const i = choose(starts.slice(0, -2).map((_, i) => i), m.at, m.near, text, (i) => starts[i]);
      if (i === undefined) return text;
      // Both lines end in a newline: the one after them starts at starts[i + 2].
      return splice(text, starts[i], starts[i + 2], text.slice(starts[i + 1], starts[i + 2]) + text.slice(starts[i], starts[i + 1]));
    }
    case 'swap-statements': {
      const pair = choose(statementPairs(text), m.at, m.near, text, ([a]) => a.startIndex);
      if (!pair) return text;
      const [a, b] = pair;
      const between = text.slice(a.endIndex, b.startIndex);
      return splice(text, a.startIndex, b.endIndex, text.slice(b.startIndex, b.endIndex) + between + text.slice(a.startIndex, a.endIndex));
    }
    case 'truncate': {
      const offsets = tokens(text).map((t) => t.start);
      const at = choose(offsets, m.at, m.near, text, (o) => o);
      // Sometimes mid-token: a file cut short by a full disk or a bad copy.
      return at === undefined ? text : text.slice(0, at + (m.at % 3 === 0 ? 1 : 0));
    }
  }
}

/** The case's input text. */
export function mutate(fixtures: Record<string, string>, c: FuzzCase): string {
  return c.mutations.reduce(applyMutation, fixtures[c.fixture]);
}
