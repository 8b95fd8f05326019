/**
 * Lowering a converted file from the original's, parsing only what the edits changed. Edits
 * touch a few statements of a few functions; everything else is lowered from the original's
 * definitions, and an edited function is the original's definition with its edited statements
 * swapped for new ones, each parsed on its own. On the fixtures, the edited definitions are 75 KB
 * to parse again, a fifth of all the text verify parses; the edited statements are 14 KB.
 */
import { macroLoopAt, parseC, tolerate, type Node } from '../parse/kernel-c.ts';
import { newlines } from '../parse/lines.ts';
import type { Edit } from '../../transforms/index.ts';
import { applyEdits } from '../plan/plan.ts';
import { functionName } from '../sites/dataflow.ts';
import { hasRealError, type FileAnalysis } from '../sites/groups.ts';
import { timed } from '../timing.ts';
import { LoweredFile, type Definition, type LineMap } from './lower.ts';

const lowered = new WeakMap<object, LoweredFile>();

/** Lowering of a file already parsed for analysis, done once however often it is verified. */
export function lowerAnalysed(analysis: FileAnalysis): LoweredFile {
  let file = lowered.get(analysis.tree);
  if (!file) lowered.set(analysis.tree, (file = LoweredFile.of(analysis.tree.rootNode)));
  return file;
}

/**
 * The converted file lowered without parsing all of it. Undefined when that is not sure to give
 * what a parse of the whole text gives: an edit outside a function or in one holding another,
 * or parse errors in an edited function, around it, or in what an edit made (an iterator
 * macro's missing `;` is none). An error elsewhere in the file is no reason: an edited function
 * that parsed whole, and parses whole again, leaves the parser where it found it, so the rest
 * reads as it did.
 */
export function loweredEdits(analysis: FileAnalysis, edits: readonly Edit[]): LoweredFile | undefined {
  const broken = hasRealError(analysis.tree.rootNode);
  const before = lowerAnalysed(analysis);
  const defs = analysis.tree.rootNode.descendantsOfType('function_definition');
  const touched = new Map<Node, Edit[]>();
  for (const e of edits) {
    const def = defs.find((d) => d.startIndex <= e.start && e.end <= d.endIndex);
    if (!def) return undefined;
    const inDef = touched.get(def);
    if (inDef) inDef.push(e);
    else touched.set(def, [e]);
  }
  const replaced = new Map<string, Definition>();
  const shift = lineShift(analysis.text, edits);
  for (const [def, es] of touched) {
    // A definition tree-sitter read inside another (after a macro it could not read) is lowered
    // on its own too: only a whole parse gives both their edited versions.
    if (defs.some((d) => d !== def && def.startIndex <= d.startIndex && d.endIndex <= def.endIndex)) return undefined;
    if (broken && (hasRealError(def) || insideError(def))) return undefined;
    const name = functionName(def);
    // A later definition of a name (the other branch of an #ifdef) is not lowered, edited or not.
    if (!name || before.definitions.get(name) !== def) continue;
    const edited = editedStatements(analysis.text, def, es, shift) ?? editedDefinition(analysis.text, def, es, name, shift);
    if (!edited) return undefined;
    replaced.set(name, edited);
  }
  return before.withDefinitions(replaced);
}

/** Whether tree-sitter read this node inside an ERROR, or inside a construct that has one. */
function insideError(node: Node): boolean {
  for (let n = node.parent; n && n.parent; n = n.parent) if (n.type === 'ERROR' || hasRealError(n)) return true;
  return false;
}

/**
 * Lines the edits add before a position of the original text: a node there sits that much
 * lower in the converted text. An edit counts once it starts before the position and ends by it.
 */
function lineShift(text: string, edits: readonly Edit[]): (index: number) => number {
  const deltas = edits.map((e) => ({ start: e.start, end: e.end, delta: newlines(e.text) - newlines(text.slice(e.start, e.end)) })).filter((d) => d.delta);
  return (index) => {
    let n = 0;
    for (const d of deltas) if (d.start < index && d.end <= index) n += d.delta;
    return n;
  };
}

/** Lines of the original's nodes in the converted text. */
const shiftedLines = (shift: (index: number) => number): LineMap => ({
  start: (n) => n.startPosition.row + 1 + shift(n.startIndex),
  end: (n) => n.endPosition.row + 1 + shift(n.endIndex),
});

/** `edits` applied to the text of `node`. */
function editedText(text: string, node: Node, edits: readonly Edit[]): string {
  return applyEdits(text.slice(node.startIndex, node.endIndex), edits.map((e) => ({ ...e, start: e.start - node.startIndex, end: e.end - node.startIndex })));
}

/** The whole edited definition, parsed on its own. */
function editedDefinition(text: string, def: Node, edits: readonly Edit[], name: string, shift: (index: number) => number): Definition | undefined {
  const root = timed('parse', () => parseC(editedText(text, def, edits))).rootNode;
  const parsed = root.descendantsOfType('function_definition');
  if (hasRealError(root) || parsed.length !== 1 || functionName(parsed[0]) !== name) return undefined;
  // The definition's text starts its first line.
  const first = shiftedLines(shift).start(def);
  return { node: parsed[0], lines: { start: (n) => first + n.startPosition.row, end: (n) => first + n.endPosition.row } };
}

/**
 * The original definition with each statement an edit falls in replaced by its edited version,
 * or undefined when an edit is not inside a statement of a block (the signature, an iterator
 * macro's header, a `for` initialiser) or an edited statement is not one statement on its own.
 */
function editedStatements(text: string, def: Node, edits: readonly Edit[], shift: (index: number) => number): Definition | undefined {
  const body = def.childForFieldName('body');
  const statements: Node[] = [];
  for (const e of edits) {
    const s = body && statementAround(body, e);
    if (!s) return undefined;
    statements.push(s);
  }
  // An edit inside a statement another edit's statement holds is part of the outer one.
  const outer = statements.filter((s) => !statements.some((o) => o !== s && o.startIndex <= s.startIndex && s.endIndex <= o.endIndex && (o.startIndex < s.startIndex || s.endIndex < o.endIndex)));
  const substitutes = new Map<Node, Node | null>();
  const original = shiftedLines(shift);
  // Per parsed statement, what to add to its rows to get lines of the converted text.
  const offsets = new Map<object, number>();
  for (const s of new Set(outer)) {
    const mine = edits.filter((e) => s.startIndex <= e.start && e.end <= s.endIndex);
    const replacement = statementAlone(editedText(text, s, mine));
    if (replacement === undefined) return undefined;
    substitutes.set(s, replacement);
    if (replacement) offsets.set(replacement.tree, original.start(s) - SNIPPET_ROWS);
  }
  const lines: LineMap = {
    start: (n) => (n.tree === def.tree ? original.start(n) : offsets.get(n.tree)! + n.startPosition.row),
    end: (n) => (n.tree === def.tree ? original.end(n) : offsets.get(n.tree)! + n.endPosition.row),
  };
  // As a parse of the edited definition would read it (annotations blanked).
  return { node: def, text: tolerate(editedText(text, def, edits)), substitutes, lines };
}

/**
 * The innermost statement of a block that holds all of `edit`, below the function body itself,
 * and that lowering takes as one statement: not an iterator macro's header (lowered with the
 * statement after it) nor a `case` arm (its switch lowers the arm's statements itself), and not
 * inside a statement lowered as a whole (an opaque one keeps its original text).
 */
function statementAround(body: Node, edit: Edit): Node | undefined {
  let found: Node | undefined;
  for (let n: Node | undefined = body; n; ) {
    const child: Node | undefined = n.children.find((c) => c.startIndex <= edit.start && edit.end <= c.endIndex && c.startIndex < c.endIndex);
    if (!child) break;
    if (n.type === 'compound_statement' && child.isNamed && !UNSWAPPABLE.has(child.type) && !macroLoopAt(child)) found = child;
    if (!STRUCTURAL.has(child.type)) break;
    n = child;
  }
  return found;
}

const UNSWAPPABLE = new Set(['comment', 'case_statement']);

/** Statements lowering goes into statement by statement (each through lowerStmt). */
const STRUCTURAL = new Set([
  'compound_statement', 'if_statement', 'else_clause', 'for_statement', 'while_statement', 'do_statement',
  'labeled_statement', 'switch_statement', 'case_statement', 'preproc_if', 'preproc_ifdef',
]);

const SNIPPET_HEAD = 'void __gup2pin_statement(void)\n{\n';
/** Rows of SNIPPET_HEAD: the statement starts on row 2 of its parse. */
const SNIPPET_ROWS = 2;

/**
 * `text` parsed as the statements of a function body: its one statement, null for none, or
 * undefined if it is more than one, has parse errors or ends up an iterator macro's header.
 */
function statementAlone(text: string): Node | null | undefined {
  const root = timed('parse', () => parseC(`${SNIPPET_HEAD}${text}\n}\n`)).rootNode;
  if (hasRealError(root)) return undefined;
  const defs = root.namedChildren.filter((c) => c.type !== 'comment');
  const body = defs.length === 1 && defs[0].type === 'function_definition' ? defs[0].childForFieldName('body') : null;
  if (!body) return undefined;
  const statements = body.namedChildren.filter((c) => c.type !== 'comment');
  if (statements.length > 1 || (statements.length === 1 && macroLoopAt(statements[0]))) return undefined;
  return statements[0] ?? null;
}
