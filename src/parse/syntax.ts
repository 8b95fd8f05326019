/**
 * A plain-JS mirror of a tree-sitter tree, built by one TreeCursor walk right after the parse.
 *
 * Every property of a node-tree-sitter SyntaxNode is a native call (plus marshalling), and the
 * analysis asks for hundreds of thousands of them; copying the tree once is far cheaper. The
 * mirror implements the subset of the SyntaxNode API this project uses, with node-tree-sitter's
 * semantics: indices are UTF-16 code units, `text` slices the string given to the parser, `id`
 * is unique per node (and across trees), missing results are `null`.
 *
 * Two binding quirks are not copied, as nothing here depends on them: its `parent` of a
 * zero-width node can be a preceding sibling's descendant (the MISSING `;` after
 * `for_each_sg(…)` gets the argument list; the mirror answers the node whose children hold it),
 * and `childForFieldName` follows fields inherited through an aliased hidden rule to a grandchild
 * (`parameters` of a K&R-style function_definition); the mirror knows the cursor's fields only.
 */
import type Parser from 'tree-sitter';
import { lineOfIndex, lineStarts } from './lines.ts';

export interface Point {
  row: number;
  column: number;
}

/** Per-language tables, filled as ids are first met: the binding does not export its own. */
const typeNames: string[] = [];
const namedTypes: boolean[] = [];
const fieldNames: string[] = [];

let nextId = 1;

export class SyntaxTree {
  readonly rootNode: SyntaxNode;
  /** Every node in document (pre-)order; a node's subtree is a contiguous run. */
  readonly nodes: SyntaxNode[] = [];
  private lineStarts?: number[];
  private error?: boolean;

  constructor(
    /** The string the parser read: what node texts are slices of. */
    readonly source: string,
    /** The node-tree-sitter tree, for anything the mirror does not cover. Slow: not for hot paths. */
    readonly native: Parser.Tree,
  ) {
    this.rootNode = this.build();
  }

  /** Whether the tree has any error: when not, no node needs asking. */
  get hasError(): boolean {
    return (this.error ??= this.native.rootNode.hasError);
  }

  pointAt(index: number): Point {
    const starts = (this.lineStarts ??= lineStarts(this.source));
    const row = lineOfIndex(starts, index) - 1;
    return { row, column: index - starts[row] };
  }

  private build(): SyntaxNode {
    const cursor = this.native.walk();
    const base = nextId;
    let parent: SyntaxNode | null = null;
    for (;;) {
      const typeId = cursor.nodeTypeId;
      if (typeNames[typeId] === undefined) {
        // Named-ness belongs to the (public) symbol, like the name.
        typeNames[typeId] = cursor.nodeType;
        namedTypes[typeId] = cursor.nodeIsNamed;
      }
      const fieldId = cursor.currentFieldId;
      const field = fieldId === undefined ? null : (fieldNames[fieldId] ??= cursor.currentFieldName);
      const start = cursor.startIndex;
      const end = cursor.endIndex;
      // Only zero-width nodes can be MISSING: spare the native call for the rest.
      const missing = start === end && cursor.nodeIsMissing;
      const node: SyntaxNode = new SyntaxNode(this, base + this.nodes.length, this.nodes.length, parent?.children.length ?? 0, typeNames[typeId], namedTypes[typeId], missing, field, start, end, parent);
      this.nodes.push(node);
      parent?.children.push(node);
      if (cursor.gotoFirstChild()) {
        parent = node;
        continue;
      }
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) {
          nextId = base + this.nodes.length;
          return this.nodes[0];
        }
        parent = parent!.parent;
      }
    }
  }
}

export class SyntaxNode {
  readonly children: SyntaxNode[] = [];
  private named?: SyntaxNode[];

  constructor(
    readonly tree: SyntaxTree,
    readonly id: number,
    /** Position in `tree.nodes`. */
    private readonly order: number,
    /** Position in `parent.children`. */
    private readonly index: number,
    readonly type: string,
    readonly isNamed: boolean,
    readonly isMissing: boolean,
    /** The field this node fills in its parent, if any (as the cursor reports it). */
    private readonly field: string | null,
    readonly startIndex: number,
    readonly endIndex: number,
    readonly parent: SyntaxNode | null,
  ) {}

  get text(): string {
    return this.tree.source.slice(this.startIndex, this.endIndex);
  }

  get startPosition(): Point {
    return this.tree.pointAt(this.startIndex);
  }

  get endPosition(): Point {
    return this.tree.pointAt(this.endIndex);
  }

  /**
   * Tree-sitter's own answer (an error cost below): it counts MISSING tokens the cursor does not
   * show (the newline ending a `#define`) and not the ERROR leaf of a rejected character.
   */
  get hasError(): boolean {
    return this.tree.hasError && this.native.hasError;
  }

  /** The binding's node for this one. Slow (native calls down from the root): not for hot paths. */
  get native(): Parser.SyntaxNode {
    const path: number[] = [];
    for (let n: SyntaxNode = this; n.parent; n = n.parent) path.push(n.index);
    let node = this.tree.native.rootNode;
    for (let i = path.length - 1; i >= 0; i--) node = node.child(path[i])!;
    return node;
  }

  get namedChildren(): SyntaxNode[] {
    return (this.named ??= this.children.filter((c) => c.isNamed));
  }

  get namedChildCount(): number {
    return this.namedChildren.length;
  }

  get firstNamedChild(): SyntaxNode | null {
    return this.namedChildren[0] ?? null;
  }

  child(index: number): SyntaxNode | null {
    return this.children[index] ?? null;
  }

  namedChild(index: number): SyntaxNode | null {
    return this.namedChildren[index] ?? null;
  }

  get previousNamedSibling(): SyntaxNode | null {
    const siblings = this.parent?.children ?? [];
    for (let i = this.index - 1; i >= 0; i--) if (siblings[i].isNamed) return siblings[i];
    return null;
  }

  get nextNamedSibling(): SyntaxNode | null {
    const siblings = this.parent?.children ?? [];
    for (let i = this.index + 1; i < siblings.length; i++) if (siblings[i].isNamed) return siblings[i];
    return null;
  }

  childForFieldName(name: string): SyntaxNode | null {
    // The cursor credits an ERROR's children with their hidden parents' fields; the node API
    // reads the ERROR's own (empty) field map.
    if (this.type === 'ERROR') return null;
    return this.children.find((c) => c.field === name) ?? null;
  }

  childrenForFieldName(name: string): SyntaxNode[] {
    return this.children.filter((c) => c.field === name);
  }

  /** This node and everything below it, in document order. */
  descendants(): SyntaxNode[] {
    return this.tree.nodes.slice(this.order, this.subtreeEnd());
  }

  /**
   * Nodes of the given type(s) among this node and its descendants, in document order — as the
   * binding returns them, which also skips empty nodes at the very start of the file.
   */
  descendantsOfType(types: string | string[]): SyntaxNode[] {
    const wanted = typeof types === 'string' ? [types] : types;
    const nodes = this.tree.nodes;
    const out: SyntaxNode[] = [];
    for (let i = this.order, end = this.subtreeEnd(); i < end; i++) {
      const n = nodes[i];
      if (n.endIndex > 0 && wanted.includes(n.type)) out.push(n);
    }
    return out;
  }

  /** One past this node's last descendant in `tree.nodes`. */
  private subtreeEnd(): number {
    let last: SyntaxNode = this;
    while (last.children.length) last = last.children[last.children.length - 1];
    return last.order + 1;
  }
}
