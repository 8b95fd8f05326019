/**
 * Names the conversion emits that the file defines itself (H14): goldfish_pipe's own static
 * `pin_user_pages()`. A static function whose every use in the file is its own (a call, its
 * address, a prototype) is renamed with the conversion (src/plan/rename.ts); any other clash
 * refuses the file's groups, saying why it cannot be renamed.
 */
import type { Node, Tree } from '../parse/kernel-c.ts';
import { EMITTED_NAMES } from './api.ts';
import { callName, isStaticDecl, lineOf, nodeAt } from './ast.ts';
import type { FileFacts } from './dataflow.ts';
import type { Diagnostic } from './diagnostics.ts';

/** A static function of the file named like the API, and every place its name is its own. */
export interface LocalApiFunction {
  name: string;
  /** Line of its (first) definition. */
  line: number;
  /**
   * The identifiers to rename: definitions, prototypes, calls, address uses; with the parameter
   * or argument list that follows, whose continuation lines may be aligned under its `(`.
   */
  uses: Array<{ start: number; end: number; list?: { start: number; end: number } }>;
}

export interface Clashes {
  refusals: Diagnostic[];
  renamable: LocalApiFunction[];
}

/** A mention of the name: renamed with the function, left as it is, or why it stops the rename. */
type Mention = 'rename' | 'leave' | { why: string };

/**
 * The clashes of one file (`part` of the analysed text). `unparsed` tells code tree-sitter could
 * not parse: a use there may be anything.
 */
export function findClashes(text: string, tree: Tree, facts: FileFacts, part: { start: number; end: number }, unparsed: (n: Node) => boolean): Clashes {
  const out: Clashes = { refusals: [], renamable: [] };
  const inPart = (n: Node) => n.startIndex >= part.start && n.startIndex < part.end;
  const defs = tree.rootNode.descendantsOfType('function_definition').filter(inPart);
  const macros = tree.rootNode.descendantsOfType(['preproc_def', 'preproc_function_def']).filter(inPart);
  for (const name of EMITTED_NAMES) {
    const refuse = (line: number, message: string) => out.refusals.push({ code: 'name-clash', line, message });
    const macro = macros.find((m) => m.childForFieldName('name')?.text === name);
    if (macro) {
      refuse(lineOf(macro), `this file defines ${name} as a macro (line ${lineOf(macro)}), which would capture the converted calls: a macro is not renamed`);
      continue;
    }
    const mine = defs.filter((d) => definedName(d) === name);
    if (!mine.length) continue;
    const line = lineOf(mine[0]);
    const own = `this file defines its own ${name}() (line ${line})`;
    const shared = mine.find((d) => !isStaticDecl(d));
    if (shared) {
      const exported = new RegExp(`\\bEXPORT_SYMBOL\\w*\\s*\\(\\s*${name}\\s*\\)`).test(text.slice(part.start, part.end));
      refuse(line, exported
        ? `this file defines and exports ${name}() (line ${lineOf(shared)}): other modules call it, so it is not renamed, and it would capture the converted calls`
        : `this file defines its own ${name}() (line ${lineOf(shared)}), which is not static: other files may call it, so it is not renamed, and it would capture the converted calls`);
      continue;
    }
    const uses: LocalApiFunction['uses'] = [];
    let blocked: string | undefined;
    for (const m of text.slice(part.start, part.end).matchAll(new RegExp(`\\b${name}\\b`, 'g'))) {
      const node = nodeAt(tree.rootNode, part.start + m.index);
      const what = mention(node, name, facts, unparsed);
      if (what === 'leave') continue;
      if (what !== 'rename') {
        blocked = `line ${lineOf(node)} ${what.why}`;
        break;
      }
      const list = node.parent?.childForFieldName(node.parent.type === 'call_expression' ? 'arguments' : 'parameters');
      uses.push({ start: node.startIndex, end: node.endIndex, ...(list && { list: { start: list.startIndex, end: list.endIndex } }) });
    }
    if (blocked) refuse(line, `${own}, but ${blocked}: it is not renamed, and it would capture the converted calls`);
    else out.renamable.push({ name, line, uses });
  }
  return out;
}

const definedName = (def: Node): string | undefined => {
  let d = def.childForFieldName('declarator');
  while (d && d.type !== 'function_declarator') d = d.childForFieldName('declarator');
  return d?.childForFieldName('declarator')?.text;
};


/**
 * What one mention of `name` is. Comments and strings are left as they are (a comment may mean
 * the kernel's API as well as the local function; a message is not code), and so is a struct
 * member of that name (another namespace). An identifier is the local function when it is its
 * declarator, a call of it or its address, in code that parsed and not under a variable of the
 * same name; anything else (a macro body, `#undef`, `#ifdef`, EXPORT_SYMBOL()) stops the rename.
 */
function mention(node: Node, name: string, facts: FileFacts, unparsed: (n: Node) => boolean): Mention {
  if (LEFT_ALONE.has(node.type)) return 'leave';
  const pre = preprocessorContext(node);
  if (pre) return { why: `mentions it in ${pre}` };
  if (node.type !== 'identifier') return { why: `uses it as a ${node.type.replace(/_/g, ' ')}` };
  if (unparsed(node)) return { why: 'uses it in code tree-sitter could not parse' };
  const parent = node.parent!;
  if (parent.type === 'function_declarator') {
    const decl = parent.parent;
    if (decl?.type === 'function_definition' || (decl?.type === 'declaration' && decl.parent?.type === 'translation_unit')) return 'rename';
    return { why: 'declares it inside a function' };
  }
  const fn = facts.functionOf(node);
  const where = fn ? ` in ${fn.name}()` : '';
  if (DECLARATORS.has(parent.type) && parent.childForFieldName('declarator')?.id === node.id) return { why: `declares a variable of that name${where}` };
  if (fn?.names.has(name)) return { why: `uses a variable of that name${where}` };
  const call = parent.type === 'argument_list' ? parent.parent : undefined;
  if (call?.type === 'call_expression' && /^EXPORT_SYMBOL/.test(callName(call) ?? '')) return { why: `exports it (${callName(call)})` };
  // A call of it, or the function as a value (its address, with or without `&`).
  return 'rename';
}

const LEFT_ALONE = new Set(['comment', 'string_content', 'string_literal', 'char_literal', 'system_lib_string', 'field_identifier']);

const DECLARATORS = new Set(['init_declarator', 'declaration', 'parameter_declaration', 'pointer_declarator', 'array_declarator', 'field_declaration']);

/** The preprocessor construct a mention is part of, if any (not the code an `#ifdef` holds). */
function preprocessorContext(node: Node): string | undefined {
  for (let n = node; n.parent; n = n.parent) {
    const p: Node = n.parent;
    if (p.type === 'preproc_call') return `a preprocessor line (${p.text.trim().split('\n')[0]})`;
    if (p.type === 'preproc_def' || p.type === 'preproc_function_def') return `the macro ${p.childForFieldName('name')?.text}`;
    if (p.type === 'preproc_defined') return 'a preprocessor condition';
    if (/^preproc_(if|ifdef|elif|elifdef)$/.test(p.type))
      return [p.childForFieldName('condition')?.id, p.childForFieldName('name')?.id].includes(n.id) ? 'a preprocessor condition' : undefined;
    if (p.type === 'translation_unit' || p.type === 'function_definition' || p.type.endsWith('statement')) return undefined;
  }
  return undefined;
}
