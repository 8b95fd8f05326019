/**
 * Lowering: the syntax tree → a small AST of expressions and statements the interpreter walks.
 * Done once per function: resolving field names and node types on every simulated step would
 * cost more than the simulation itself. Anything outside the subset becomes an `opaque`
 * expression or statement.
 */
import { isIteratorMacro, macroLoopAt, parseC, type Node } from '../parse/kernel-c.ts';
import { callArgs, callName } from '../sites/ast.ts';
import { functionName } from '../sites/dataflow.ts';
import { CONSTANTS } from './constants.ts';
import { builtin } from './mm-api.ts';

export type Expr =
  | { t: 'num'; v: number }
  | { t: 'str'; text: string }
  /**
   * A name, resolved once here: `slot`, the function's local variable of this name if it declares
   * one (see Func.locals); `global`, the name's number in the file, for when it means a global
   * variable; `constant`, the value of the kernel constant of this name; `callee`, the function
   * of this name the file defines. Which applies is decided as the code runs (a local before its
   * declaration is not one yet).
   */
  | { t: 'id'; name: string; slot?: number; global: number; constant?: number; callee?: Func }
  | { t: 'bin'; op: string; l: Expr; r: Expr }
  | { t: 'un'; op: string; e: Expr }
  | { t: 'upd'; op: '++' | '--'; prefix: boolean; e: Expr }
  /** `op`: the operator of a compound assignment (`+` for `+=`); none for `=`. */
  | { t: 'asg'; op?: string; l: Expr; r: Expr }
  | { t: 'cond'; c: Expr; a: Expr; b: Expr }
  | { t: 'cast'; type: string; e: Expr }
  | { t: 'sizeof'; text: string }
  | { t: 'deref'; e: Expr }
  | { t: 'addr'; e: Expr }
  | { t: 'idx'; e: Expr; i: Expr }
  /** `array`: the field is an array embedded in the struct, so it reads as its own address. */
  | { t: 'fld'; e: Expr; name: string; arrow: boolean; array?: boolean }
  /** The called name resolved as for `id` (global -1 for a call through a pointer). */
  | { t: 'call'; name?: string; fn: Expr; args: Expr[]; texts: string[]; line: number; slot?: number; global: number; callee?: Func }
  | { t: 'comma'; l: Expr; r: Expr }
  | { t: 'opaque'; text: string };

export interface VarDecl {
  name: string;
  type: string;
  /** Declared as an array (`struct page *pages[16]`) or a struct by value: storage of its own. */
  aggregate: boolean;
  length?: Expr;
  init?: Expr;
  /** Initialised `= {}`, `= { NULL }`, `= { 0 }`: every element reads as zero. */
  zeroed?: boolean;
  /** Index of the variable in Func.locals. */
  slot: number;
}

/**
 * Where a statement is: its first and last line in the text of its version (the converted text
 * for a converted file's statements). Coverage asks which edited statements a run executed.
 */
export interface Span {
  line: number;
  end: number;
  /**
   * Set while a verification counts the runs of this statement (an edited one): runs record
   * only these, as recording every statement costs a fifth of the simulation.
   */
  watched?: boolean;
}

export type Stmt = Span & StmtKind;

type StmtKind =
  | { t: 'decl'; vars: VarDecl[] }
  | { t: 'expr'; e: Expr }
  | { t: 'block'; body: Stmt[]; labels: Map<string, number> }
  | { t: 'if'; c: Expr; a: Stmt; b?: Stmt }
  | { t: 'for'; init?: Stmt; c?: Expr; u?: Expr; body: Stmt }
  | { t: 'while'; c: Expr; body: Stmt }
  | { t: 'do'; body: Stmt; c: Expr }
  | { t: 'break' }
  | { t: 'continue' }
  | { t: 'ret'; e?: Expr }
  | { t: 'goto'; label: string }
  | { t: 'label'; name: string; s: Stmt }
  | { t: 'switch'; c: Expr; body: Block; cases: Array<{ at: number; v?: Expr }> }
  | { t: 'macroloop'; name: string; args: Expr[]; body: Stmt }
  | { t: 'nop' };

export type Block = Extract<Stmt, { t: 'block' }>;
type IdExpr = Extract<Expr, { t: 'id' }>;
type CallExpr = Extract<Expr, { t: 'call' }>;

export interface Param {
  name: string;
  type: string;
}

export interface Func {
  name: string;
  params: Param[];
  returnType: string;
  body: Stmt;
  /** Source text of the whole definition: two versions differ iff their texts do. */
  text: string;
  line: number;
  /** The last line of its body. */
  end: number;
  /**
   * Names of the parameters and local variables, each once, parameters first: a frame keeps its
   * variables in an array indexed like this, so running the code never looks a name up.
   */
  locals: string[];
}

const num = (text: string): number => {
  const t = text.replace(/[uUlL]+$/, '');
  const v = /^0[0-7]+$/.test(t) ? parseInt(t, 8) : Number(t);
  return Number.isFinite(v) ? v : NaN;
};

const field = (n: Node, name: string) => n.childForFieldName(name);

function lowerExpr(n: Node | null | undefined): Expr {
  const e = uniformExpr(exprNode(n));
  if (e.t === 'id' || (e.t === 'call' && e.name)) current.uses.push(e);
  return e;
}

function exprNode(n: Node | null | undefined): Expr {
  if (!n) return { t: 'opaque', text: '' };
  switch (n.type) {
    case 'number_literal': {
      const v = num(n.text);
      return Number.isNaN(v) ? { t: 'opaque', text: n.text } : { t: 'num', v };
    }
    case 'char_literal':
      return { t: 'num', v: n.text.length >= 3 ? n.text.charCodeAt(1) : 0 };
    case 'true':
      return { t: 'num', v: 1 };
    case 'false':
    case 'null':
      return { t: 'num', v: 0 };
    case 'string_literal':
    case 'concatenated_string':
      return { t: 'str', text: n.text };
    case 'identifier':
      return { t: 'id', name: n.text, ...fileName(n.text) };
    case 'parenthesized_expression':
      return exprNode(n.namedChildren.find((c) => c.type !== 'comment'));
    case 'binary_expression':
      return { t: 'bin', op: field(n, 'operator')!.text, l: lowerExpr(field(n, 'left')), r: lowerExpr(field(n, 'right')) };
    case 'unary_expression':
      return { t: 'un', op: field(n, 'operator')!.text, e: lowerExpr(field(n, 'argument')) };
    case 'update_expression': {
      const op = field(n, 'operator')!;
      return { t: 'upd', op: op.text as '++' | '--', prefix: op.startIndex === n.startIndex, e: lowerExpr(field(n, 'argument')) };
    }
    case 'assignment_expression': {
      const op = field(n, 'operator')!.text;
      return { t: 'asg', op: op === '=' ? undefined : op.slice(0, -1), l: lowerExpr(field(n, 'left')), r: lowerExpr(field(n, 'right')) };
    }
    case 'conditional_expression':
      return { t: 'cond', c: lowerExpr(field(n, 'condition')), a: lowerExpr(field(n, 'consequence')), b: lowerExpr(field(n, 'alternative')) };
    case 'cast_expression':
      return { t: 'cast', type: field(n, 'type')?.text ?? '', e: lowerExpr(field(n, 'value')) };
    case 'sizeof_expression':
    // A member's offset is a constant of the build, like a size: no page depends on its value.
    case 'offsetof_expression':
      return { t: 'sizeof', text: n.text };
    case 'pointer_expression': {
      const op = field(n, 'operator')!.text;
      const e = lowerExpr(field(n, 'argument'));
      return op === '&' ? { t: 'addr', e } : { t: 'deref', e };
    }
    case 'subscript_expression':
      return { t: 'idx', e: lowerExpr(field(n, 'argument')), i: lowerExpr(field(n, 'index')) };
    case 'field_expression': {
      const name = field(n, 'field')?.text ?? '?';
      const e: Expr = { t: 'fld', e: lowerExpr(field(n, 'argument')), name, arrow: field(n, 'operator')?.text === '->' };
      if (embeddedArrays.has(name)) e.array = true;
      return e;
    }
    case 'call_expression': {
      const argNodes = callArgs(n);
      const name = callName(n);
      const expanded = name ? expansion(n, name, argNodes) : undefined;
      if (expanded) return expanded;
      const args = typeArguments(argNodes);
      return {
        t: 'call',
        name,
        global: name ? fileName(name).global : -1,
        fn: lowerExpr(field(n, 'function')),
        args: args.map((a) => ('typeName' in a ? uniformExpr({ t: 'num', v: 0 }) : lowerExpr(a))),
        texts: args.map((a) => ('typeName' in a ? a.typeName : a.text)),
        line: expandedAt ?? n.startPosition.row + 1,
      };
    }
    case 'comma_expression':
      return { t: 'comma', l: lowerExpr(field(n, 'left')), r: lowerExpr(field(n, 'right')) };
    case 'gnu_asm_expression':
      return asmExpr(n) ?? { t: 'opaque', text: n.text };
    default:
      return { t: 'opaque', text: n.text };
  }
}

/**
 * `asm volatile("ptesync" : : : "memory")`: a call the simulator cannot see into (an event both
 * runs must make alike), its input operands the arguments; each output operand gets a value of
 * its own the asm computed. No asm takes or drops a page reference. An `asm goto` can jump to
 * its labels, so it stays unmodelled.
 */
function asmExpr(n: Node): Expr | undefined {
  if (field(n, 'goto_labels')) return undefined;
  const operands = (list: string) => (field(n, list)?.namedChildren ?? []).flatMap((o) => field(o, 'value') ?? []);
  const outputs = operands('output_operands');
  const line = expandedAt ?? n.startPosition.row + 1;
  const call = (inputs: Node[]): Expr => {
    const name = 'asm';
    const e = uniformExpr<CallExpr>({ t: 'call', name, ...fileName(name), fn: uniformExpr({ t: 'id', name, ...fileName(name) }), args: inputs.map(lowerExpr), texts: inputs.map((i) => i.text), line });
    current.uses.push(e);
    return e;
  };
  const inputs = operands('input_operands');
  if (!outputs.length) return call(inputs);
  return outputs
    .map((o, i) => uniformExpr<Expr>({ t: 'asg', l: lowerExpr(o), r: call(i ? [] : inputs) }))
    .reduce((l, r) => uniformExpr({ t: 'comma', l, r }));
}

/**
 * A function-like macro the file itself defines: `#define HAS_MEM(_qpb) (_qpb->state == X || …)`.
 * A call of one is lowered as what the preprocessor makes of it, so `entry->state = X` earlier in
 * the run decides it, where an opaque call would be a decision of its own.
 */
export interface Macro {
  params: string[];
  /** The replacement text, its line continuations joined. */
  body: string;
  /**
   * An iterator macro whose replacement is a `for` header: `#define for_each_runnable_thread(i,
   * vcpu, vc) for (i = -1; (vcpu = next_runnable_thread(vc, &i)); )`. Its loops are lowered as
   * that `for`, so they run as the file's own code says.
   */
  loop?: boolean;
}

/** The file's function-like macros (set by LoweredFile). */
let fileMacros: ReadonlyMap<string, Macro> = new Map();

/** Macros being expanded: C does not expand a macro again inside its own expansion. */
const expanding = new Set<string>();

/** The line of the outermost call being expanded: the calls its expansion makes are made there. */
let expandedAt: number | undefined;

/** Parsed expansions by text: a macro is usually called alike at many places. */
const expansions = new Map<string, Node | null>();

/**
 * The call `n` of the file's macro `name`, lowered as its expansion, if the macro is one whose
 * body is one C expression. Anything else (a statement macro, `#`/`##`, a variadic macro, a
 * name the simulator models, a call with the wrong number of arguments) stays a call.
 */
function expansion(n: Node, name: string, argNodes: Node[]): Expr | undefined {
  const m = fileMacros.get(name);
  if (!m || m.loop || expanding.has(name) || argNodes.length !== m.params.length || builtin(name)) return undefined;
  const text = replaced(m, argNodes);
  let e = expansions.get(text);
  if (e === undefined) expansions.set(text, (e = expressionOf(text)));
  if (!e) return undefined;
  const outer = expandedAt;
  expandedAt ??= n.startPosition.row + 1;
  expanding.add(name);
  try {
    return exprNode(e);
  } finally {
    expanding.delete(name);
    expandedAt = outer;
  }
}

/** A macro's replacement text for a call with `argNodes`. */
function replaced(m: Macro, argNodes: Node[]): string {
  const args = new Map(m.params.map((p, i) => [p, argNodes[i].text.trim()]));
  // Parameters are replaced as tokens, outside literals and comments, as the preprocessor does.
  return m.body.replace(MACRO_TOKENS, (tok) => (args.has(tok) ? args.get(tok)! : tok));
}

/**
 * A loop of the file's iterator macro `name` (see Macro.loop), lowered as the `for` it expands
 * to, with `body` as the loop's body; undefined for any other iterator (a modelled one, or one
 * the file does not define as a `for`).
 */
function fileLoop(name: string, argNodes: Node[], at: number, body: () => Stmt): StmtKind | undefined {
  const m = fileMacros.get(name);
  if (!m?.loop || argNodes.length !== m.params.length) return undefined;
  const text = replaced(m, argNodes);
  let loop = loopHeaders.get(text);
  if (loop === undefined) loopHeaders.set(text, (loop = forStatementOf(text)));
  if (!loop) return undefined;
  const outer = expandedAt;
  expandedAt ??= at;
  let header: Omit<Extract<StmtKind, { t: 'for' }>, 'body'>;
  try {
    header = forHeader(loop);
  } finally {
    expandedAt = outer;
  }
  return { ...header, body: body() };
}

/** Parsed `for` headers by text, as expansions. */
const loopHeaders = new Map<string, Node | null>();

/** `text` (a `for (…)` header) parsed as a `for` statement with an empty body, if it is one. */
function forStatementOf(text: string): Node | null {
  const s = soleStatement(`${text}\n;`);
  return s?.type === 'for_statement' && field(s, 'body')?.type === 'expression_statement' ? s : null;
}

/** `text` parsed as a function body: its one statement, if it holds exactly one and parses clean. */
function soleStatement(text: string): Node | null {
  const tree = parseC(`void __gup2pin_macro(void)\n{\n${text}\n}\n`);
  if (tree.hasError) return null;
  const stmts = tree.rootNode.firstNamedChild?.childForFieldName('body')?.namedChildren.filter((c) => c.type !== 'comment') ?? [];
  return stmts.length === 1 ? stmts[0] : null;
}

/** String and character literals, comments, numbers, identifiers: the tokens a parameter may be. */
const MACRO_TOKENS = /"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|\/\*[\s\S]*?\*\/|\/\/[^\n]*|\.?\d[\w.]*|[A-Za-z_]\w*/g;

/** `text` parsed as one C expression, if it is one. */
function expressionOf(text: string): Node | null {
  const s = soleStatement(`(${text}\n);`);
  if (s?.type !== 'expression_statement') return null;
  return s.namedChildren.find((c) => c.type !== 'comment') ?? null;
}

/**
 * A replacement that is only a `for (…)` header (whether its parentheses close at its end is
 * left to the parse of an expansion).
 */
const FOR_HEADER_RE = /^for\s*\(.*\)$/s;

/** The function-like macros `root` defines whose replacement could be an expression or a loop header. */
function macroDefinitions(root: Node, functions: ReadonlySet<string>): Map<string, Macro> {
  const macros = new Map<string, Macro | null>();
  for (const d of root.descendantsOfType('preproc_function_def')) {
    const name = field(d, 'name')?.text;
    const params = field(d, 'parameters')?.children.filter((c) => c.type !== '(' && c.type !== ')' && c.type !== ',' && c.type !== 'comment') ?? [];
    const value = field(d, 'value');
    const body = value?.text.replace(/\\\r?\n/g, ' ').trim();
    if (!name || functions.has(name)) continue;
    const loop = isIteratorMacro(name);
    if (loop && !(body && FOR_HEADER_RE.test(body))) continue;
    // A comment ends tree-sitter's replacement text: one inside the body leaves the rest out.
    const whole = !!value && d.children.every((c) => c.endIndex <= value.endIndex || c.type === 'comment') && !d.hasError;
    const usable = whole && body && !body.includes('#') && params.every((p) => p.type === 'identifier');
    const m = usable ? { params: params.map((p) => p.text), body, ...(loop && { loop }) } : null;
    // Defined differently under different #ifs: which one the build has is not known.
    const seen = macros.get(name);
    macros.set(name, seen === undefined || (seen && m && seen.body === m.body && seen.params.join() === m.params.join()) ? m : null);
  }
  const out = new Map<string, Macro>();
  for (const [name, m] of macros) if (m) out.set(name, m);
  return out;
}

/**
 * A macro's arguments, a type argument (`offsetofend(struct foo, m)`, `sizeof_field(struct foo,
 * m)`) as one: tree-sitter reads `struct foo` there as two nodes, one of them an ERROR. A type
 * names no value the code computes with (it lowers to 0); its text is kept for container_of().
 */
function typeArguments(nodes: Node[]): Array<Node | { typeName: string }> {
  const out: Array<Node | { typeName: string }> = [];
  for (let i = 0; i < nodes.length; i++) {
    const next = nodes[i + 1];
    if (/^(struct|union|enum)$/.test(nodes[i].text.trim()) && next && /^\w+$/.test(next.text.trim())) {
      out.push({ typeName: `${nodes[i].text.trim()} ${next.text.trim()}` });
      i++;
    } else out.push(nodes[i]);
  }
  return out;
}

/**
 * The node with every field any expression node has, in one order. The interpreter reads these
 * fields at a great many places; objects of one shape keep each of those reads fast, where a
 * shape per kind of node would make them all generic lookups.
 */
function uniformExpr<E extends Expr>(e: E): E {
  const x: Record<string, unknown> = e;
  const all = {
    t: x.t, v: x.v, text: x.text, name: x.name, slot: x.slot, global: x.global, constant: x.constant, callee: x.callee,
    op: x.op, prefix: x.prefix, l: x.l, r: x.r, e: x.e, c: x.c, a: x.a, b: x.b, i: x.i, type: x.type, arrow: x.arrow,
    array: x.array, fn: x.fn, args: x.args, texts: x.texts, line: x.line,
  };
  return all as unknown as E;
}

/** The same for statements, placed at `span`. */
function uniformStmt<S extends StmtKind>(s: S, span: Span): S & Span {
  const x: Record<string, unknown> = s;
  const all = {
    t: x.t, vars: x.vars, e: x.e, line: span.line, end: span.end, watched: false, body: x.body, labels: x.labels, c: x.c, a: x.a, b: x.b, init: x.init,
    u: x.u, label: x.label, name: x.name, s: x.s, cases: x.cases, args: x.args,
  };
  return all as unknown as S & Span;
}

/** How lines are counted for the definition being lowered (set by LoweredFile). */
export interface LineMap {
  start(n: Node): number;
  end(n: Node): number;
}

const TREE_LINES: LineMap = { start: (n) => n.startPosition.row + 1, end: (n) => n.endPosition.row + 1 };

let lines = TREE_LINES;

const spanOf = (n: Node): Span => ({ line: lines.start(n), end: lines.end(n) });

/** The declared name and whether the declarator makes it a pointer/array. */
function declarator(d: Node): { name?: string; pointer: number; array?: Node | null; isArray: boolean } {
  let pointer = 0;
  let isArray = false;
  let array: Node | null | undefined;
  let n: Node | null = d;
  while (n && n.type !== 'identifier') {
    if (n.type === 'pointer_declarator') pointer++;
    if (n.type === 'array_declarator') {
      isArray = true;
      array = field(n, 'size');
    }
    if (n.type === 'function_declarator') return { pointer: 1, isArray: false };
    n = field(n, 'declarator') ?? n.namedChildren.find((c) => /declarator|identifier/.test(c.type)) ?? null;
  }
  return { name: n?.text, pointer, array, isArray };
}

function lowerDecl(n: Node): StmtKind {
  const type = field(n, 'type')?.text ?? '';
  const byValue = /^(struct|union)\s/.test(type);
  const vars: VarDecl[] = [];
  for (const d of n.childrenForFieldName('declarator')) {
    const init = d.type === 'init_declarator' ? field(d, 'value') : null;
    const info = declarator(d.type === 'init_declarator' ? field(d, 'declarator')! : d);
    if (!info.name) continue;
    const v: VarDecl = {
      name: info.name,
      type: `${type} ${'*'.repeat(info.pointer)}`.trim(),
      aggregate: info.isArray || (byValue && !info.pointer),
      length: info.array ? lowerExpr(info.array) : undefined,
      init: init && init.type !== 'initializer_list' ? lowerExpr(init) : undefined,
      zeroed: init?.type === 'initializer_list' && zeroList(init),
      slot: -1, // numbered by numberLocals()
    };
    vars.push(v);
    current.decls.push(v);
  }
  return { t: 'decl', vars };
}

/**
 * `for_each_online_cpu(cpu)\n\tf(cpu);`: a one-argument iterator macro whose body is a call of
 * plain names reads to tree-sitter as a declaration of `f` with the type `for_each_online_cpu(cpu)`.
 * It is the loop, and lowered as one (otherwise the body would silently never run).
 */
function misreadMacroLoop(n: Node): StmtKind | undefined {
  const type = field(n, 'type');
  const macro = type?.type === 'macro_type_specifier' ? type.namedChildren.find((c) => c.type === 'identifier') : undefined;
  if (!macro || !isIteratorMacro(macro.text)) return undefined;
  const decls = n.childrenForFieldName('declarator');
  const fn = decls.length === 1 && decls[0].type === 'function_declarator' ? decls[0] : undefined;
  const callee = fn && field(fn, 'declarator');
  const params = (fn && field(fn, 'parameters')?.namedChildren.filter((c) => c.type !== 'comment')) ?? [];
  const cursor = type!.namedChildren.find((c) => c.type === 'type_descriptor');
  const plain = (x: Node | null | undefined): x is Node => !!x && /^[A-Za-z_]\w*$/.test(x.text);
  if (!plain(callee) || !plain(cursor) || !params.every(plain)) return undefined;
  const id = (name: string): IdExpr => {
    const e = uniformExpr<IdExpr>({ t: 'id', name, ...fileName(name) });
    current.uses.push(e);
    return e;
  };
  const call = uniformExpr<CallExpr>({
    t: 'call',
    name: callee.text,
    global: fileName(callee.text).global,
    fn: id(callee.text),
    args: params.map((p) => id(p.text)),
    texts: params.map((p) => p.text),
    line: fn!.startPosition.row + 1,
  });
  current.uses.push(call);
  const body = uniformStmt({ t: 'expr', e: call }, spanOf(fn!));
  return { t: 'macroloop', name: macro.text, args: [id(cursor.text)], body };
}

/**
 * `for_each_possible_cpu(cpu) { … }` reads as an old-style definition of a function named by the
 * macro's argument: it is the loop.
 */
function misreadMacroBlock(n: Node): StmtKind | undefined {
  const cursor = misreadCursor(n);
  if (!cursor) return undefined;
  const name = field(n, 'type')!.text;
  const body = () => lowerStmt(field(n, 'body'));
  return fileLoop(name, [cursor], n.startPosition.row + 1, body) ?? { t: 'macroloop', name, args: [lowerExpr(cursor)], body: body() };
}

/** The cursor of a misread `for_each_xxx(cursor) { … }` (see misreadMacroBlock). */
function misreadCursor(n: Node): Node | undefined {
  const type = field(n, 'type');
  const decl = field(n, 'declarator');
  const cursor = decl?.type === 'parenthesized_declarator' ? decl.namedChildren.filter((c) => c.type !== 'comment') : [];
  if (type?.type !== 'type_identifier' || !isIteratorMacro(type.text) || cursor.length !== 1 || cursor[0].type !== 'identifier' || !field(n, 'body')) return undefined;
  return cursor[0];
}

/** `{}`, `{ NULL }`, `{ 0 }`: C zero-fills what the list leaves out, and it leaves out all. */
const zeroList = (list: Node) => list.namedChildren.every((c) => c.type === 'comment' || /^(0|NULL)$/.test(c.text.trim()));

/** A block of statements, with where each label (a `goto` target) sits in it. */
function block(body: Stmt[], span: Span): Block {
  const labels = new Map<string, number>();
  body.forEach((s, i) => {
    for (let l: Stmt = s; l.t === 'label'; l = l.s) labels.set(l.name, i);
  });
  return uniformStmt({ t: 'block', body, labels }, span);
}

/** Statements of a block, with iterator-macro headers joined to their bodies. */
function lowerBlock(children: Node[], span: Span): Block {
  const body: Stmt[] = [];
  const named = children.filter((c) => c.type !== 'comment' && c.isNamed);
  for (let i = 0; i < named.length; i++) {
    const c = named[i];
    // A statement an edit deleted.
    if (substitutes.get(c) === null) continue;
    const loop = macroLoopAt(c);
    if (loop && named[i + 1]?.id === loop.body.id) {
      const span = { line: lines.start(c), end: lines.end(loop.body) };
      const own = fileLoop(loop.name, callArgs(loop.call), c.startPosition.row + 1, () => lowerStmt(loop.body));
      body.push(uniformStmt(own ?? { t: 'macroloop', name: loop.name, args: callArgs(loop.call).map(lowerExpr), body: lowerStmt(loop.body) }, span));
      i++;
      continue;
    }
    body.push(lowerStmt(c));
  }
  return block(body, span);
}

const NOWHERE: Span = { line: 0, end: 0 };

/** A `for` statement's initialiser, condition and update (an expanded macro's: at its call's line). */
function forHeader(n: Node): Omit<Extract<StmtKind, { t: 'for' }>, 'body'> {
  const init = field(n, 'initializer');
  const span = (x: Node) => (expandedAt === undefined ? spanOf(x) : { line: expandedAt, end: expandedAt });
  return {
    t: 'for',
    init: init ? uniformStmt(init.type === 'declaration' ? lowerDecl(init) : { t: 'expr', e: lowerExpr(init) }, span(init)) : undefined,
    c: field(n, 'condition') ? lowerExpr(field(n, 'condition')) : undefined,
    u: field(n, 'update') ? lowerExpr(field(n, 'update')) : undefined,
  };
}

function lowerStmt(n: Node | null | undefined): Stmt {
  const swapped = n && substitutes.get(n);
  const node = swapped === undefined ? n : swapped;
  return uniformStmt(stmtNode(node), node ? spanOf(node) : NOWHERE);
}

/** A function's definition, as lowering takes it. */
export interface Definition {
  node: Node;
  /** The definition's text, when statements are swapped (else the node's). */
  text?: string;
  /** Statements of the definition lowered as other statements (null: as none). */
  substitutes?: ReadonlyMap<Node, Node | null>;
  /** Lines in the text this version's statements belong to, when not the node's own tree's. */
  lines?: LineMap;
}

const NO_SUBSTITUTES: ReadonlyMap<Node, Node | null> = new Map();

/** The statements swapped in the definition being lowered (set by LoweredFile). */
let substitutes = NO_SUBSTITUTES;

function stmtNode(n: Node | null | undefined): StmtKind {
  if (!n) return { t: 'nop' };
  switch (n.type) {
    case 'compound_statement':
      return lowerBlock(n.namedChildren, spanOf(n));
    case 'declaration':
      return misreadMacroLoop(n) ?? lowerDecl(n);
    case 'function_definition':
      return misreadMacroBlock(n) ?? { t: 'expr', e: uniformExpr({ t: 'opaque', text: n.text }) };
    case 'expression_statement': {
      const e = n.namedChildren.find((c) => c.type !== 'comment');
      return e ? { t: 'expr', e: lowerExpr(e) } : { t: 'nop' };
    }
    case 'if_statement': {
      const alt = field(n, 'alternative');
      return {
        t: 'if',
        c: lowerExpr(field(n, 'condition')),
        a: lowerStmt(field(n, 'consequence')),
        b: alt ? lowerStmt(alt.type === 'else_clause' ? alt.namedChildren.find((c) => c.type !== 'comment') : alt) : undefined,
      };
    }
    case 'for_statement':
      return { ...forHeader(n), body: lowerStmt(field(n, 'body')) };
    case 'while_statement':
      return { t: 'while', c: lowerExpr(field(n, 'condition')), body: lowerStmt(field(n, 'body')) };
    case 'do_statement':
      return { t: 'do', body: lowerStmt(field(n, 'body')), c: lowerExpr(field(n, 'condition')) };
    case 'break_statement':
      return { t: 'break' };
    case 'continue_statement':
      return { t: 'continue' };
    case 'return_statement': {
      const e = n.namedChildren.find((c) => c.type !== 'comment');
      return { t: 'ret', e: e ? lowerExpr(e) : undefined };
    }
    case 'goto_statement':
      return { t: 'goto', label: field(n, 'label')!.text };
    case 'labeled_statement': {
      const s = n.namedChildren.filter((c) => c.type !== 'comment' && c.type !== 'statement_identifier')[0];
      return { t: 'label', name: field(n, 'label')!.text, s: lowerStmt(s) };
    }
    case 'switch_statement': {
      // Flatten `case` arms into one statement list with entry points, like C does.
      const body: Stmt[] = [];
      const cases: Array<{ at: number; v?: Expr }> = [];
      for (const arm of field(n, 'body')?.namedChildren ?? []) {
        if (arm.type !== 'case_statement') {
          if (arm.type !== 'comment') body.push(lowerStmt(arm));
          continue;
        }
        const value = field(arm, 'value');
        cases.push({ at: body.length, v: value ? lowerExpr(value) : undefined });
        body.push(...lowerBlock(arm.namedChildren.filter((c) => c.type !== 'comment' && c.id !== value?.id), spanOf(arm)).body);
      }
      return { t: 'switch', c: lowerExpr(field(n, 'condition')), body: block(body, spanOf(n)), cases };
    }
    case 'preproc_if':
    case 'preproc_ifdef': {
      // Simulate the configuration where the guarded code is built; the #else arm is ignored.
      const alt = field(n, 'alternative');
      return lowerBlock(n.namedChildren.filter((c) => c.id !== alt?.id && c.id !== field(n, 'name')?.id && c.id !== field(n, 'condition')?.id), spanOf(n));
    }
    case ';':
    case 'comment':
    case 'preproc_call':
    case 'preproc_def':
    case 'preproc_function_def':
      return { t: 'nop' };
    default:
      // Preprocessor lines, inline asm, nested function-like oddities: not simulated.
      return { t: 'expr', e: uniformExpr({ t: 'opaque', text: n.text }) };
  }
}

/**
 * `struct ib_umem *` for `struct ib_umem *ib_umem_get(…)`: the stars sit in the declarators
 * above the function declarator, whose parameters are returned too.
 */
function signature(def: Node): { returnType: string; params: Param[] } {
  let stars = 0;
  let d = field(def, 'declarator');
  for (; d && d.type !== 'function_declarator'; d = field(d, 'declarator')) if (d.type === 'pointer_declarator') stars++;
  const params: Param[] = [];
  for (const p of (d && field(d, 'parameters'))?.namedChildren ?? []) {
    if (p.type !== 'parameter_declaration') continue;
    const decl = field(p, 'declarator');
    if (!decl) continue;
    const info = declarator(decl);
    if (info.name) params.push({ name: info.name, type: `${field(p, 'type')?.text ?? ''} ${'*'.repeat(info.pointer + (info.isArray ? 1 : 0))}`.trim() });
  }
  return { returnType: `${field(def, 'type')?.text ?? 'int'} ${'*'.repeat(stars)}`.trim(), params };
}

/**
 * Field names the file's structs declare as arrays (`struct frag frags[16]`), and never
 * otherwise: set by LoweredFile for the file it lowers.
 */
let embeddedArrays = new Set<string>();

/** What the function being lowered declares, and where its code uses a name (set by LoweredFile). */
interface FunctionNames {
  decls: VarDecl[];
  uses: Array<IdExpr | CallExpr>;
}
let current: FunctionNames = { decls: [], uses: [] };

/** The names used in the file being lowered, numbered, with the constant each is (set by LoweredFile). */
let fileNames = new Map<string, FileName>();

function fileName(name: string): FileName {
  let known = fileNames.get(name);
  if (!known) fileNames.set(name, (known = { global: fileNames.size, constant: Object.hasOwn(CONSTANTS, name) ? CONSTANTS[name] : undefined }));
  return known;
}

/**
 * The file's enumerators, numbered as the compiler does: `case UBO_USERPTR:` of a buffer made
 * `UBO_PRIVATE` is not taken. Past a value the file does not spell as a number, the enum's
 * remaining enumerators are left unknown.
 */
function enumeratorNames(root: Node): Map<string, FileName> {
  const names = new Map<string, FileName>();
  for (const list of root.descendantsOfType('enumerator_list')) {
    let next: number | undefined = 0;
    for (const e of list.namedChildren) {
      if (e.type !== 'enumerator') continue;
      const name = field(e, 'name')?.text;
      const value = field(e, 'value')?.text.trim();
      if (value !== undefined) next = /^(0x[0-9a-f]+|\d+)[uUlL]*$/i.test(value) ? Number(value.replace(/[uUlL]+$/, '')) : names.get(value)?.constant;
      if (name && !names.has(name) && !Object.hasOwn(CONSTANTS, name)) names.set(name, { global: names.size, constant: next });
      next = next === undefined ? undefined : next + 1;
    }
  }
  return names;
}

function arrayFieldNames(root: Node): Set<string> {
  const arrays = new Set<string>();
  const others = new Set<string>();
  for (const f of root.descendantsOfType('field_declaration'))
    for (const d of f.childrenForFieldName('declarator')) {
      // What applies first, closest to the name, decides: `*pages[64]` is an array of
      // pointers, `(*pages)[64]` a pointer.
      let closest: Node | null = null;
      let id: Node | null = d;
      while (id && id.type !== 'field_identifier') {
        if (id.type !== 'parenthesized_declarator') closest = id;
        id = field(id, 'declarator') ?? (id.type === 'parenthesized_declarator' ? id.firstNamedChild : null);
      }
      if (id) (closest?.type === 'array_declarator' ? arrays : others).add(id.text);
    }
  for (const name of others) arrays.delete(name);
  return arrays;
}

/** Every function defined in the file, lowered. The first definition of a name wins. */
export function lowerFile(root: Node): Map<string, Func> {
  return LoweredFile.of(root).funcs;
}

type FileName = { global: number; constant?: number };

/**
 * A function of a lowered file: its signature and lines at once, its body the first time it is
 * run or looked into. A session runs a few of a file's functions, and a kernel file has hundreds.
 */
class LazyFunc implements Func {
  declare readonly body: Stmt;
  declare readonly locals: string[];
  #lowered?: { body: Stmt; locals: string[] };
  readonly #lowerBody: () => { body: Stmt; locals: string[] };

  constructor(
    readonly name: string,
    readonly returnType: string,
    readonly params: Param[],
    readonly text: string,
    readonly line: number,
    readonly end: number,
    lowerBody: () => { body: Stmt; locals: string[] },
  ) {
    this.#lowerBody = lowerBody;
    // Its own properties, as a lowered function's are: what walks a function as data (JSON,
    // the tests) sees its body.
    Object.defineProperties(this, LAZY_PARTS);
  }

  lowered(): { body: Stmt; locals: string[] } {
    return (this.#lowered ??= this.#lowerBody());
  }
}

const LAZY_PARTS: PropertyDescriptorMap = {
  body: { get: function (this: LazyFunc) { return this.lowered().body; }, enumerable: true },
  locals: { get: function (this: LazyFunc) { return this.lowered().locals; }, enumerable: true },
};

/**
 * A file's functions, each lowered when first needed, with what lowering new versions of some of
 * them needs: the file's name numbering, array fields and macros, and each function's definition.
 */
export class LoweredFile {
  readonly funcs = new Map<string, Func>();
  /** The definition each function is lowered from. */
  readonly definitions = new Map<string, Node>();

  private constructor(
    private readonly arrays: Set<string>,
    private readonly names: Map<string, FileName>,
    private readonly macros: ReadonlyMap<string, Macro>,
  ) {}

  static of(root: Node): LoweredFile {
    const defs = new Map<string, Definition>();
    for (const def of root.descendantsOfType('function_definition')) {
      const name = functionName(def);
      // A loop read as a definition (misreadMacroBlock) is no function of the file.
      if (name && field(def, 'body') && !defs.has(name) && !misreadCursor(def)) defs.set(name, { node: def });
    }
    const file = new LoweredFile(arrayFieldNames(root), enumeratorNames(root), macroDefinitions(root, new Set(defs.keys())));
    for (const [name, def] of defs) file.add(name, def);
    return file;
  }

  /**
   * This file with some definitions replaced by new versions (each parsed on its own, as the
   * file's structs are unchanged). Its functions are all its own, lowered when needed: a lowered
   * call links to the lowered callee, so a caller shared with the original would still run the
   * old version of a replaced function.
   */
  withDefinitions(replaced: ReadonlyMap<string, Definition>): LoweredFile {
    const file = new LoweredFile(this.arrays, new Map(this.names), this.macros);
    for (const name of this.funcs.keys()) file.add(name, replaced.get(name) ?? { node: this.definitions.get(name)! });
    return file;
  }

  /** A function of this file, to be lowered from `definition` when first needed. */
  private add(name: string, definition: Definition): void {
    const { node: def, text, lines: counted = TREE_LINES } = definition;
    const { returnType, params } = signature(def);
    const end = counted.end(field(def, 'body')!);
    this.funcs.set(name, new LazyFunc(name, returnType, params, text ?? def.text, counted.start(def), end, () => this.lower(definition, params)));
    this.definitions.set(name, def);
  }

  private lower({ node: def, substitutes: swapped, lines: counted }: Definition, params: Param[]): { body: Stmt; locals: string[] } {
    embeddedArrays = this.arrays;
    fileNames = this.names;
    fileMacros = this.macros;
    expansions.clear();
    loopHeaders.clear();
    current = { decls: [], uses: [] };
    substitutes = swapped ?? NO_SUBSTITUTES;
    lines = counted ?? TREE_LINES;
    let body: Stmt;
    try {
      body = lowerStmt(field(def, 'body')!);
    } finally {
      substitutes = NO_SUBSTITUTES;
      lines = TREE_LINES;
    }
    for (const e of current.uses) e.callee = this.funcs.get(e.name!);
    return { body, locals: numberLocals(params, current) };
  }
}

/**
 * Give every parameter and declared variable of a function a slot, and every use of one its
 * slot. C block scopes are not modelled: a name means the same variable (the latest declaration
 * run) anywhere in the function; a name the function never declares is a global.
 */
function numberLocals(params: Param[], { decls, uses }: FunctionNames): string[] {
  const slots = new Map<string, number>();
  const add = (name: string) => {
    let i = slots.get(name);
    if (i === undefined) slots.set(name, (i = slots.size));
    return i;
  };
  for (const p of params) add(p.name);
  for (const v of decls) v.slot = add(v.name);
  for (const e of uses) e.slot = slots.get(e.name!);
  return [...slots.keys()];
}

const structPointers = new Map<string, string | undefined>();

/** `struct foo *` / `struct foo **` (normalised), or undefined for any other type. */
export function structPointer(type: string): string | undefined {
  if (structPointers.has(type)) return structPointers.get(type);
  const t = type.replace(/\b(const|__user)\b/g, '').replace(/\s+/g, '').replace(/^(struct|union)/, '$1 ').replace(/\*/, ' *');
  const out = /^(struct|union) \w+ \*+$/.test(t) ? t : undefined;
  structPointers.set(type, out);
  return out;
}
