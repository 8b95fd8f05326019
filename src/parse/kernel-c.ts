/**
 * tree-sitter-c with kernel tolerance.
 *
 * Kernel C is not ISO C: annotations such as `__user` or `__acquires(x)` and macros taking a
 * *type* argument (`min_t(unsigned long, …)`, `container_of(p, struct foo, m)`) make
 * tree-sitter-c produce ERROR nodes around exactly the code we need to edit. We rewrite those
 * spans to something parseable *of the same length* before parsing, so every node offset is
 * still an offset into the original text and edits map straight back onto it.
 */
import Parser from 'tree-sitter';
import C from 'tree-sitter-c';
import { SyntaxTree, type SyntaxNode } from './syntax.ts';

export type Node = SyntaxNode;
export type Tree = SyntaxTree;

/** Annotation words blanked to spaces (sparse/compiler attributes without arguments). */
const ANNOTATION_WORDS = [
  '__user', '__iomem', '__kernel', '__force', '__rcu', '__percpu', '__bitwise', '__must_check',
  '__maybe_unused', '__always_unused', '__init', '__exit', '__initdata', '__exitdata',
  '__read_mostly', '__ro_after_init', '__cold', '__hot', '__weak', '__pure', '__noreturn',
  '__always_inline', 'noinline', '__noinline', 'notrace', '__visible', '__latent_entropy',
  '__randomize_layout', '__packed', '__private', '__safe', '__nocast', '__must_hold',
  '__devinit', '__devexit', '__ref', '__deprecated', '__attribute_const__', '__sched',
  'asmlinkage', '__net_init', '__net_exit', '__init_or_module', '__used', '__nocfi',
];

/** Attributes with an argument list: the whole `name(args)` is blanked. */
const ANNOTATION_CALLS = [
  '__acquires', '__releases', '__must_hold', '__printf', '__scanf', '__aligned', '__section',
  '__attribute__', '__cond_lock', '__counted_by', '__alloc_size', '__malloc',
];

/** Macros with a type argument, and the index of that argument. */
const TYPE_ARG_MACROS: Record<string, number> = {
  min_t: 0, max_t: 0, clamp_t: 0, container_of: 1, container_of_const: 1, list_entry: 1,
  list_first_entry: 1, list_last_entry: 1, list_first_entry_or_null: 1, rb_entry: 1,
  rb_entry_safe: 1, hlist_entry: 1, hlist_entry_safe: 1, llist_entry: 1, sizeof_field: 0,
  offsetof: 0, typeof_member: 0, va_arg: 1,
};

const wordRe = new RegExp(`\\b(?:${ANNOTATION_WORDS.join('|')})\\b`, 'g');
const callRe = new RegExp(`\\b(?:${ANNOTATION_CALLS.join('|')})\\s*\\(`, 'g');
const typeMacroRe = new RegExp(
  `\\b(${Object.keys(TYPE_ARG_MACROS).join('|')})\\s*\\(`,
  'g',
);

/** Index of the parenthesis closing the one opened just before `from`, or -1. */
function closingParen(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 40 /* ( */) depth++;
    else if (ch === 41 /* ) */ && --depth === 0) return i;
  }
  return -1;
}

/** Top-level comma-separated argument spans [start, end) between `open+1` and `close`. */
function argSpans(text: string, open: number, close: number): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open + 1; i < close; i++) {
    const ch = text[i];
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 0) {
      spans.push([start, i]);
      start = i + 1;
    }
  }
  spans.push([start, close]);
  return spans;
}

/**
 * Same-length rewrite of `text` that tree-sitter-c parses well. The changes are few and far
 * between, so they are collected per position (later ones win) and spliced into slices of
 * the original rather than rebuilding the text one character at a time.
 */
export function tolerate(text: string): string {
  return tolerated(text).src;
}

/**
 * `for_each_sgtable_dma_sg(sgt, sg, i) {` at the start of a statement: the header of an
 * iterator-macro loop. Without a `;` tree-sitter-c may read it as the left operand of a
 * multiplication whose right one is the body's first statement (`{ *size -= …`), drop the `{`
 * and end the function at the loop's `}`: the rest of the function is lost. A blank just before
 * the `{` becomes the `;` (`for_each_sg(…);{`), which leaves one reading; `macroLoopAt()` knows
 * that `;` for the macro's.
 */
const iteratorCallRe = /\b(\w*for_each\w*)\s*\(/g;

function iteratorHeaderEnds(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(iteratorCallRe)) {
    if (!isIteratorMacro(m[1]) || !atStatementStart(text, m.index!)) continue;
    const close = closingParen(text, m.index! + m[0].length);
    if (close < 0) continue;
    let brace = close + 1;
    while (brace < text.length && /\s/.test(text[brace])) brace++;
    if (text[brace] !== '{') continue;
    // The blank nearest the `{` that is not a line break (lines must stay where they are).
    let at = brace - 1;
    while (at > close && text[at] === '\n') at--;
    if (at > close && /[ \t]/.test(text[at])) out.push(at);
  }
  return out;
}

/**
 * Whether `at` starts a statement: after `;`, `{`, `}`, a label's or a case's `:`, the `)` of an
 * `if`/`for`/`while` head, or `else` (comments skipped). Not a function definition named
 * `for_each_…` (after its return type) nor a `#define` of one.
 */
function atStatementStart(text: string, at: number): boolean {
  let i = at - 1;
  for (;;) {
    while (i >= 0 && /\s/.test(text[i])) i--;
    if (i >= 1 && text[i] === '/' && text[i - 1] === '*') {
      const open = text.lastIndexOf('/*', i - 2);
      if (open < 0) return false;
      i = open - 1;
      continue;
    }
    break;
  }
  if (i < 0) return false;
  if (';{}:)'.includes(text[i])) return true;
  return /\belse$/.test(text.slice(Math.max(0, i - 4), i + 1));
}

interface Tolerated {
  src: string;
  /** Where a `;` ends an iterator macro's header (see iteratorHeaderEnds). */
  headerEnds: number[];
}

function tolerated(text: string): Tolerated {
  const changed = new Map<number, string>();
  const headerEnds = iteratorHeaderEnds(text);
  for (const at of headerEnds) changed.set(at, ';');
  const blank = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (text[i] !== '\n') changed.set(i, ' ');
  };
  for (const m of text.matchAll(wordRe)) blank(m.index!, m.index! + m[0].length);
  for (const m of text.matchAll(callRe)) {
    const close = closingParen(text, m.index! + m[0].length);
    if (close > 0) blank(m.index!, close + 1);
  }
  for (const m of text.matchAll(typeMacroRe)) {
    const open = m.index! + m[0].length - 1;
    const close = closingParen(text, open + 1);
    if (close < 0) continue;
    const spans = argSpans(text, open, close);
    const span = spans[TYPE_ARG_MACROS[m[1]]];
    if (!span) continue;
    // `struct foo *` → `struct_foo__`: one identifier, same length.
    const [s, e] = span;
    let i = s;
    while (i < e && /\s/.test(text[i])) i++;
    let j = e;
    while (j > i && /\s/.test(text[j - 1])) j--;
    for (let k = i; k < j; k++) if (/[\s*]/.test(text[k]) && text[k] !== '\n') changed.set(k, '_');
  }
  if (!changed.size) return { src: text, headerEnds };
  const pieces: string[] = [];
  let from = 0;
  for (const at of [...changed.keys()].sort((a, b) => a - b)) {
    pieces.push(text.slice(from, at), changed.get(at)!);
    from = at + 1;
  }
  pieces.push(text.slice(from));
  return { src: pieces.join(''), headerEnds };
}

/** Per parse, the `;` tolerate() put at the end of iterator macros' headers. */
const headerEndsOf = new WeakMap<Tree, ReadonlySet<number>>();

let parser: Parser | undefined;

/**
 * Parses `text` (tolerated): a plain-JS mirror of the tree, whose node texts are slices of the
 * tolerated copy. `keepNative`: the binding's tree stays reachable even without errors (tests
 * compare the two).
 */
export function parseC(text: string, keepNative = false): Tree {
  parser ??= (() => {
    const language = C as unknown as Parser.Language & { nodeSubclasses?: unknown };
    // setLanguage would build a class per node type (field getters, by eval: ~17 ms a process)
    // for the binding's own node objects. The mirror asks those only on slow paths, through
    // the generic API, so every one can be the base class.
    const { SyntaxNode } = Parser as unknown as { SyntaxNode: unknown };
    language.nodeSubclasses ??= new Proxy([], { get: () => SyntaxNode });
    const p = new Parser();
    p.setLanguage(language);
    return p;
  })();
  const { src, headerEnds } = tolerated(text);
  // The native binding reads long inputs in chunks; a callback avoids its 32 KiB string limit.
  const tree = new SyntaxTree(src, parser.parse((index: number) => src.slice(index, index + 16384)), keepNative);
  if (headerEnds.length) headerEndsOf.set(tree, new Set(headerEnds));
  return tree;
}

/** Iterator macros: `for_each_sg(…) { … }` parses as a call with a MISSING `;` then a body. */
const ITERATOR_RE = /(^|_)for_each(_|$)/;

/** Is `name` an iterator macro (`for_each_sg`, `list_for_each_entry`, …)? */
export const isIteratorMacro = (name: string) => ITERATOR_RE.test(name);

export interface MacroLoop {
  /** The `expression_statement` holding the macro call (with its MISSING `;`). */
  header: Node;
  call: Node;
  name: string;
  /** The statement the macro iterates (usually a compound statement). */
  body: Node;
}

/** If `stmt` is the header of an iterator-macro loop, describe it. */
export function macroLoopAt(stmt: Node): MacroLoop | undefined {
  if (stmt.type !== 'expression_statement') return undefined;
  const call = stmt.firstNamedChild;
  if (!call || call.type !== 'call_expression') return undefined;
  const fn = call.childForFieldName('function');
  if (!fn || fn.type !== 'identifier' || !isIteratorMacro(fn.text)) return undefined;
  const missing = stmt.children.some((c) => c.isMissing || (c.type === ';' && headerEndsOf.get(stmt.tree)?.has(c.startIndex)));
  if (!missing && stmt.text.trimEnd().endsWith(';')) return undefined;
  const body = stmt.nextNamedSibling;
  if (!body || body.type === 'comment') return undefined;
  return { header: stmt, call, name: fn.text, body };
}

/** The macro loop whose body is `node`, if any. */
export function macroLoopOfBody(node: Node): MacroLoop | undefined {
  const prev = node.previousNamedSibling;
  if (!prev) return undefined;
  const loop = macroLoopAt(prev);
  return loop && loop.body.id === node.id ? loop : undefined;
}
