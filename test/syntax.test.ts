import { describe, it, expect } from 'vitest';
import type Parser from 'tree-sitter';
import C from 'tree-sitter-c';
import { macroLoopAt, parseC } from '../src/parse/kernel-c.ts';
import type { SyntaxNode, SyntaxTree } from '../src/parse/syntax.ts';

const FIELDS = [
  ...new Set(((C as unknown as Parser.Language).nodeTypeInfo).flatMap((t) => ('fields' in t ? Object.keys(t.fields ?? {}) : []))),
].sort();

const FUNCTION = `// SPDX-License-Identifier: GPL-2.0
static long umem_get(struct page **pages, unsigned long start, int npages)
{
\tstruct umem *u = container_of(pages, struct umem, pages);
\tint i, ret = min_t(unsigned long, npages, 16);

\tret = get_user_pages(start, npages, FOLL_WRITE, pages);
\tfor (i = 0; i < ret; i++) {
\t\tif (!PageDirty(pages[i]))
\t\t\tset_page_dirty_lock(pages[i]);
\t\tput_page(pages[i]);
\t}
\tu->count += ret > 0 ? ret : 0;
\treturn ret;
}
`;

// No blank before the `{`: where there is one, tolerate() puts a real `;` there (kernel-c.ts).
const MACRO_LOOP = `static void release(struct sg_table *st)
{
\tstruct scatterlist *sg;
\tint i;

\tfor_each_sg(st->sgl, sg, st->nents, i){
\t\tput_page(sg_page(sg));
\t}
}
`;

const BROKEN = `int f(void)
{
\tx = ;
\ty = a \\ b;
\treturn @;
}
`;

/** A statement passed as a macro argument: ERROR nodes whose children carry hidden fields. */
const MACRO_ARG = `void f(void)
{
\tDEBC(
\t\tif (!c)
\t\t\tp(M, "U\\n");
\t\telse
\t\t\tp(M, "L\\n");
\t\t);
}
`;

const NON_ASCII = `/* Überprüfung — naïve café, 😀 emoji */
static int g(char __user *buf)
{
\treturn copy_to_user(buf, "ß→", 4); // ✓
}
`;

/** The native tree's nodes in document order, as the cursor visits them. */
function nativeNodes(tree: SyntaxTree): Parser.SyntaxNode[] {
  const out: Parser.SyntaxNode[] = [];
  const cursor = tree.native.walk();
  for (;;) {
    out.push(cursor.currentNode);
    if (cursor.gotoFirstChild()) continue;
    while (!cursor.gotoNextSibling()) if (!cursor.gotoParent()) return out;
  }
}

/** Checks every node of the mirror against its native twin; returns the pairs. */
function compare(text: string): Array<[SyntaxNode, Parser.SyntaxNode]> {
  const tree = parseC(text, true);
  const natives = nativeNodes(tree);
  expect(tree.rootNode.descendants().length).toBe(natives.length);
  const twin = new Map<number, SyntaxNode>(natives.map((n, i) => [n.id, tree.node(i)]));
  const mirror = (n: Parser.SyntaxNode | null) => (n ? twin.get(n.id) : null);
  const mirrors = (ns: Parser.SyntaxNode[]) => ns.map(mirror);
  for (let i = 0; i < natives.length; i++) {
    const n = natives[i];
    const m = tree.node(i);
    const at = `${n.type}@${n.startIndex}`;
    expect({ at, type: m.type, named: m.isNamed, missing: m.isMissing, error: m.hasError }).toEqual({ at, type: n.type, named: n.isNamed, missing: n.isMissing, error: n.hasError });
    expect([at, m.startIndex, m.endIndex, m.startPosition, m.endPosition, m.text]).toEqual([at, n.startIndex, n.endIndex, n.startPosition, n.endPosition, n.text]);
    expect(m.children).toEqual(mirrors(n.children));
    expect(m.namedChildren).toEqual(mirrors(n.namedChildren));
    expect(m.namedChildCount).toBe(n.namedChildCount);
    expect(m.firstNamedChild).toBe(mirror(n.firstNamedChild));
    for (let k = 0; k <= n.childCount; k++) expect(m.child(k)).toBe(mirror(n.child(k)));
    for (let k = 0; k <= n.namedChildCount; k++) expect(m.namedChild(k)).toBe(mirror(n.namedChild(k)));
    // The binding's parent of a zero-width node can be a preceding sibling's descendant; the
    // mirror keeps the parent whose children list the node (checked above).
    if (n.startIndex < n.endIndex) {
      expect(m.parent).toBe(mirror(n.parent));
      expect(m.previousNamedSibling).toBe(mirror(n.previousNamedSibling));
      expect(m.nextNamedSibling).toBe(mirror(n.nextNamedSibling));
    }
    for (const f of FIELDS) {
      expect([at, f, m.childForFieldName(f)]).toEqual([at, f, mirror(n.childForFieldName(f))]);
      expect(m.childrenForFieldName(f)).toEqual(mirrors(n.childrenForFieldName(f)));
    }
    expect(m.native.id).toBe(n.id);
  }
  const root = tree.rootNode;
  for (const types of ['identifier', 'call_expression', 'ERROR', ';', ['declaration', 'for_statement', 'identifier']])
    for (const from of [root, ...root.descendantsOfType(['function_definition', 'compound_statement'])])
      expect(from.descendantsOfType(types)).toEqual(mirrors(from.native.descendantsOfType(types)));
  return tree.rootNode.descendants().map((m, i) => [m, natives[i]]);
}

describe('syntax mirror', () => {
  it('finds a node type first met after the search for it was first made', () => {
    // Type ids are registered as trees meet them; a search made before must learn the new id.
    // (Large trees: small subtrees are searched by name.)
    const decls = Array.from({ length: 40 }, (_, i) => `int x${i};\n`).join('');
    expect(parseC(decls).rootNode.descendantsOfType(['gnu_asm_expression', 'translation_unit'])).toHaveLength(1);
    const asm = parseC(`${decls}static void f(void)\n{\n\tasm volatile("nop");\n}\n`).rootNode;
    expect(asm.descendantsOfType(['gnu_asm_expression', 'translation_unit']).map((n) => n.type)).toEqual(['translation_unit', 'gnu_asm_expression']);
  });

  it('matches the native tree on kernel C, with the tolerated text', () => {
    const pairs = compare(FUNCTION);
    const root = pairs[0][0];
    expect(root.text).toContain('container_of(pages, struct_umem, pages)');
    expect(root.text).toContain('min_t(unsigned_long, npages, 16)');
    expect(root.descendants()).toEqual(pairs.map(([m]) => m));
  });

  it('has the MISSING `;` of an iterator macro, and its error', () => {
    const pairs = compare(MACRO_LOOP);
    const missing = pairs.filter(([m]) => m.isMissing);
    expect(missing.map(([m]) => m.type)).toEqual([';']);
    const [m] = missing[0];
    expect(m.parent!.type).toBe('expression_statement');
    expect(m.parent!.hasError).toBe(true);
    expect(m.parent!.nextNamedSibling!.type).toBe('compound_statement');
    expect(pairs[0][0].hasError).toBe(true);
  });

  it('has a real `;` for the header of an iterator macro with a blank before its `{`, still a loop header', () => {
    const pairs = compare(MACRO_LOOP.replace('i){', 'i) {'));
    expect(pairs.some(([m]) => m.isMissing || m.type === 'ERROR')).toBe(false);
    const [[header]] = pairs.filter(([m]) => m.type === 'expression_statement' && m.text.startsWith('for_each_sg'));
    expect(header.text).toBe('for_each_sg(st->sgl, sg, st->nents, i);');
    expect(macroLoopAt(header)?.body.type).toBe('compound_statement');
  });

  it('has the ERROR nodes, and error flags as tree-sitter counts them', () => {
    const pairs = compare(BROKEN);
    expect(pairs.filter(([m]) => m.type === 'ERROR').length).toBeGreaterThan(1);
    // A rejected character is an ERROR leaf with no error cost of its own.
    expect(pairs.some(([m]) => m.type === 'ERROR' && !m.hasError)).toBe(true);
    // The cursor credits an ERROR's children with fields; the node API's field lookup does not.
    const [[error]] = compare(MACRO_ARG).filter(([m]) => m.type === 'ERROR' && m.childrenForFieldName('type').length);
    expect(error.childForFieldName('type')).toBeNull();
    // The newline ending a #define can be a MISSING token the cursor never shows.
    const [[define]] = compare('#define A -1 /* x */\t\nint y;\n').filter(([m]) => m.type === 'preproc_def');
    expect(define.hasError).toBe(true);
    expect(define.descendants().some((d) => d.isMissing || d.type === 'ERROR')).toBe(false);
    expect(define.errorNodes()).toEqual([]);
    // errorNodes() is the ERROR and MISSING nodes of a subtree, in document order.
    for (const text of [BROKEN, MACRO_ARG, 'void f(void)\n{\n\tfor_each_sg(sgl, sg, n, i)\n\t\tput_page(sg_page(sg))\n}\n']) {
      const root = parseC(text).rootNode;
      const errors = root.descendants().filter((d) => d.type === 'ERROR' || d.isMissing);
      expect(errors.length).toBeGreaterThan(0);
      for (const from of [root, ...root.descendantsOfType(['function_definition', 'compound_statement', 'ERROR'])])
        expect(from.errorNodes()).toEqual(from.descendants().filter((d) => d.type === 'ERROR' || d.isMissing));
    }
  });

  it('counts UTF-16 code units, like the binding', () => {
    const pairs = compare(NON_ASCII);
    const str = pairs.find(([m]) => m.type === 'string_literal')![0];
    expect(str.text).toBe('"ß→"');
    expect(NON_ASCII.slice(str.startIndex, str.endIndex)).toBe('"ß→"');
    expect(str.startPosition).toEqual({ row: 3, column: NON_ASCII.split('\n')[3].indexOf('"') });
  });

  it('leaves out empty nodes at the start of the file from descendantsOfType, like the binding', () => {
    const [[root]] = compare('');
    expect(root.descendantsOfType('translation_unit')).toEqual([]);
  });

  it('gives every node of every tree its own id', () => {
    const ids = [...parseC(FUNCTION).rootNode.descendants(), ...parseC(FUNCTION).rootNode.descendants()].map((n) => n.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
