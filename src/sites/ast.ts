/** Small tree-sitter helpers shared by the analysis and the transforms. */
import type { Node } from '../parse/kernel-c.ts';
import { macroLoopOfBody } from '../parse/kernel-c.ts';

/** `node` and everything below it, in document order. */
export const descendants = (node: Node): Node[] => node.descendants();

export const callName = (call: Node): string | undefined => {
  const fn = call.childForFieldName('function');
  return fn?.type === 'identifier' ? fn.text : undefined;
};

export const callArgs = (call: Node): Node[] =>
  call.childForFieldName('arguments')?.namedChildren.filter((c) => c.type !== 'comment') ?? [];

/** Whitespace-insensitive text, for comparing expressions. */
export const norm = (text: string) => text.replace(/\s+/g, '').replace(/^\((.*)\)$/, '$1');

export const unparen = (node: Node): Node => {
  let n = node;
  while (n.type === 'parenthesized_expression' && n.namedChildCount === 1) n = n.namedChild(0)!;
  return n;
};

export type Loop =
  | { kind: 'for' | 'while' | 'do'; node: Node; body: Node }
  | { kind: 'macro'; node: Node; body: Node; name: string; call: Node };

const LOOP_KINDS = new Map<string, 'for' | 'while' | 'do'>([
  ['for_statement', 'for'],
  ['while_statement', 'while'],
  ['do_statement', 'do'],
]);

/** The loop whose body (directly) is `stmt`, if any. */
function loopOfBody(stmt: Node): Loop | undefined {
  const p = stmt.parent;
  if (!p) return undefined;
  const kind = LOOP_KINDS.get(p.type);
  if (kind && p.childForFieldName('body')?.id === stmt.id) return { kind, node: p, body: stmt };
  const m = macroLoopOfBody(stmt);
  if (m) return { kind: 'macro', node: m.header, body: m.body, name: m.name, call: m.call };
  return undefined;
}

/** Innermost loop enclosing `node` (which may itself be a loop's unbraced body). */
export function enclosingLoop(node: Node): Loop | undefined {
  for (let n: Node | null = node; n && n.type !== 'function_definition'; n = n.parent) {
    const l = loopOfBody(n);
    if (l) return l;
  }
  return undefined;
}

/** `n` in `for (…; index < n; …)`, when the loop's condition bounds `index`. */
export function forBound(loop: Loop, index: string): Node | undefined {
  if (loop.kind !== 'for') return undefined;
  const cond = loop.node.childForFieldName('condition');
  const c = cond && unparen(cond);
  if (c?.type !== 'binary_expression' || c.childForFieldName('operator')?.text !== '<') return undefined;
  return norm(c.childForFieldName('left')!.text) === index ? c.childForFieldName('right')! : undefined;
}

/** Statements of a body: the children of a compound statement, or the single statement. */
export const bodyStatements = (body: Node): Node[] =>
  body.type === 'compound_statement'
    ? body.namedChildren.filter((c) => c.type !== 'comment')
    : [body];

/** Leading whitespace of the line containing `index`. */
export function indentAt(text: string, index: number): string {
  const lineStart = text.lastIndexOf('\n', index - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))![0];
}

export const lineOf = (node: Node) => node.startPosition.row + 1;

/** The deepest node whose span holds `index`. */
export function nodeAt(root: Node, index: number): Node {
  for (let n = root; ; ) {
    const child = n.children.find((c) => c.startIndex <= index && index < c.endIndex);
    if (!child) return n;
    n = child;
  }
}

/** Does `node` mention identifier `name` (as a variable, not as a field name)? */
export const mentions = (node: Node, name: string) => node.descendantsOfType('identifier').some((i) => i.text === name);

/** Is a declaration or definition `static`? */
export const isStaticDecl = (decl: Node) => decl.children.some((c) => c.type === 'storage_class_specifier' && c.text === 'static');

/** `i++` of `for (…; …; i++)`: a loop's own step. */
export const isLoopStep = (n: Node) => n.parent?.type === 'for_statement' && n.parent.childForFieldName('update')?.id === n.id;

/**
 * The counters bumped by one (`n++`, `++n`, `n += 1`) in `body` after `after`, in order: each
 * bump and what it bumps. An inner loop's own step counts its iterations, not `after`'s.
 */
export function counterBumps(body: Node, after: Node): Array<{ bump: Node; counter: Node }> {
  const out: Array<{ bump: Node; counter: Node }> = [];
  for (const n of body.descendantsOfType(['update_expression', 'assignment_expression'])) {
    if (n.startIndex < after.endIndex || isLoopStep(n)) continue;
    const counter =
      n.type === 'update_expression'
        ? n.text.includes('++') && n.childForFieldName('argument')
        : n.childForFieldName('operator')?.text === '+=' && n.childForFieldName('right')?.text.trim() === '1' && n.childForFieldName('left');
    if (counter) out.push({ bump: n, counter });
  }
  return out;
}
