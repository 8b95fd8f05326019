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
import C from 'tree-sitter-c';
import { lineOfIndex, lineStarts } from './lines.ts';

export interface Point {
  row: number;
  column: number;
}

/**
 * Per-language tables, filled as ids are first met: the binding does not export its own. Sized
 * for every type id from the start: ERROR's is 0xffff, and storing it in a growing array would
 * turn the array into a dictionary, every lookup a hash probe (build, `type` and the masks were
 * 3-6 times slower after the first file with a parse error).
 */
const TYPE_IDS = 1 << 16;
const typeNames: string[] = new Array<string>(TYPE_IDS).fill('');
const namedTypes = new Uint8Array(TYPE_IDS);
/** The type ids met so far, which the masks are made of. */
const typeIds: number[] = [];
const fieldNames: string[] = [];
/** Per type id: whether its type has fields (see FIELDLESS); named types only. */
const withFields = new Uint8Array(TYPE_IDS);
/**
 * Named types whose children fill no field, from the grammar's node-types.json: the cursor is not
 * asked for their children's fields. (ERROR and any type the file does not list are asked.)
 */
const FIELDLESS: ReadonlySet<string> = new Set(
  ((C as unknown as { nodeTypeInfo?: Array<{ type: string; named: boolean; fields?: object }> }).nodeTypeInfo ?? [])
    .filter((t) => t.named && !(t.fields && Object.keys(t.fields).length))
    .map((t) => t.type),
);
/** Field ids by name, as `fieldNames` registers them. */
const fieldIds = new Map<string, number>();
/** `fields` of a node that fills no field. */
const NO_FIELD = 0xffff;
/** tree-sitter's symbol for ERROR nodes. */
const ERROR_ID = 0xffff;

let nextId = 1;

/**
 * The tree is kept as columns (typed arrays indexed by document order), not as one object per
 * node: a parse of the 6.1 tree's candidates has 725,000 nodes, and objects for all of them cost
 * more in allocation and garbage collection than the parse itself. A node's object is made the
 * first time something asks for it (and then kept, so identity holds); most are never asked for.
 */
export class SyntaxTree {
  readonly rootNode: SyntaxNode;
  /** Nodes in document (pre-)order; a node's subtree is the contiguous run of `sizes[i]` from it. */
  count = 0;
  types: Uint16Array;
  fields: Uint16Array;
  starts: Uint32Array;
  ends: Uint32Array;
  parents: Int32Array;
  sizes: Uint32Array;
  /** Position in the parent's children. */
  places: Uint32Array;
  missing: Uint8Array;
  /** The id of node 0: ids are unique across trees. */
  readonly base: number;
  /** Each node's object once made. Sized once: set at scattered indices, an empty array would
   * fall back to a dictionary. */
  private readonly objects: Array<SyntaxNode | undefined>;
  private lineStarts?: number[];
  private readonly error: boolean;
  private readonly nativeTree?: Parser.Tree;

  constructor(
    /** The string the parser read: what node texts are slices of. */
    readonly source: string,
    native: Parser.Tree,
    /** Keep the binding's tree even without errors (to compare the mirror with it). */
    keepNative = false,
  ) {
    // Kernel C has about one node per four bytes: rarely grown.
    const capacity = Math.ceil(source.length / 3) + 64;
    this.types = new Uint16Array(capacity);
    this.fields = new Uint16Array(capacity);
    this.starts = new Uint32Array(capacity);
    this.ends = new Uint32Array(capacity);
    this.parents = new Int32Array(capacity);
    this.sizes = new Uint32Array(capacity);
    this.places = new Uint32Array(capacity);
    this.missing = new Uint8Array(capacity);
    this.base = nextId;
    this.build(native);
    nextId = this.base + this.count;
    // An error-free tree never asks the binding again: its native memory can go before the
    // mirror's (peak RSS of a whole-tree run 10-25 MB lower).
    this.error = native.rootNode.hasError;
    if (this.error || keepNative) this.nativeTree = native;
    this.objects = new Array<SyntaxNode | undefined>(this.count);
    this.rootNode = this.node(0);
  }

  /** Whether the tree has any error: when not, no node needs asking. */
  get hasError(): boolean {
    return this.error;
  }

  /** The node-tree-sitter tree of a tree with errors, whose nodes are asked about them. Slow. */
  get native(): Parser.Tree {
    if (!this.nativeTree) throw new Error('the binding is asked about a tree without errors');
    return this.nativeTree;
  }

  pointAt(index: number): Point {
    const starts = (this.lineStarts ??= lineStarts(this.source));
    const row = lineOfIndex(starts, index) - 1;
    return { row, column: index - starts[row] };
  }

  /** The node at position `i` in document order. */
  node(i: number): SyntaxNode {
    return (this.objects[i] ??= new SyntaxNode(this, i));
  }

  /**
   * Every node's data is a native call (about 0.16 µs each), and the 6.1 candidates' trees have
   * 725,000 nodes: the walk asks only what it cannot know. An anonymous node is a token, so it
   * has no children to look for (41 % of nodes); a child of a node whose type has no fields fills
   * none (43 %). Spans are asked of every node: a node's hidden children (the newline ending a
   * `#include`) count in its span and are no child the cursor visits.
   */
  private build(native: Parser.Tree): void {
    const cursor = native.walk();
    // The open nodes: ancestors of the one the cursor is on, and how many children each has so far.
    const open: number[] = [];
    const childCounts: number[] = [];
    for (;;) {
      const i = this.count++;
      if (i === this.types.length) this.grow();
      const typeId = cursor.nodeTypeId;
      if (typeNames[typeId] === '') register(cursor, typeId);
      this.types[i] = typeId;
      const depth = open.length;
      const parent = depth ? open[depth - 1] : -1;
      if (parent >= 0 && !withFields[this.types[parent]]) this.fields[i] = NO_FIELD;
      else {
        const fieldId = cursor.currentFieldId;
        if (fieldId === undefined) this.fields[i] = NO_FIELD;
        else {
          if (fieldNames[fieldId] === undefined) registerField(cursor, fieldId);
          this.fields[i] = fieldId;
        }
      }
      const start = cursor.startIndex;
      const end = cursor.endIndex;
      this.starts[i] = start;
      this.ends[i] = end;
      // Only zero-width nodes can be MISSING: spare the native call for the rest.
      this.missing[i] = start === end && cursor.nodeIsMissing ? 1 : 0;
      this.parents[i] = parent;
      this.places[i] = depth ? childCounts[depth - 1]++ : 0;
      if (namedTypes[typeId] && cursor.gotoFirstChild()) {
        open.push(i);
        childCounts.push(0);
        continue;
      }
      this.sizes[i] = 1;
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) return;
        const closed = open.pop()!;
        childCounts.pop();
        this.sizes[closed] = this.count - closed;
      }
    }
  }

  private grow(): void {
    const more = <T extends Uint16Array | Uint32Array | Int32Array | Uint8Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(a.length * 2);
      b.set(a);
      return b;
    };
    this.types = more(this.types);
    this.fields = more(this.fields);
    this.starts = more(this.starts);
    this.ends = more(this.ends);
    this.parents = more(this.parents);
    this.sizes = more(this.sizes);
    this.places = more(this.places);
    this.missing = more(this.missing);
  }
}

/**
 * Records a type id met for the first time. Out of `build`, as is registerField: code the
 * optimised `build` had never run threw it back to the interpreter when a later file met a new
 * type or field (6 of its 8 deopts in a whole-tree run; the other 2 are its first zero-width
 * node's MISSING check, which a call in its place does not spare).
 */
function register(cursor: Parser.TreeCursor, typeId: number): void {
  // Named-ness belongs to the (public) symbol, like the name.
  const name = cursor.nodeType;
  typeNames[typeId] = name;
  typeIds.push(typeId);
  namedTypes[typeId] = cursor.nodeIsNamed ? 1 : 0;
  withFields[typeId] = FIELDLESS.has(name) ? 0 : 1;
  for (const m of masks.values()) if (m.names.includes(name)) m.mask[typeId] = 1;
}

/** Records a field id met for the first time. */
function registerField(cursor: Parser.TreeCursor, fieldId: number): void {
  fieldNames[fieldId] = cursor.currentFieldName;
  fieldIds.set(fieldNames[fieldId], fieldId);
}

/** Subtrees smaller than this are searched by type name, larger ones by a mask of type ids. */
const SMALL_SUBTREE = 64;

/**
 * Type ids by name(s), as a mask over ids (several can share a name: aliases), kept up to date as
 * trees register ids. Over all 2^16 ids: ERROR's is 0xffff.
 */
const masks = new Map<string, { names: readonly string[]; mask: Uint8Array }>();

function typeMask(types: string | string[]): Uint8Array {
  const key = typeof types === 'string' ? types : types.join(' ');
  let made = masks.get(key);
  if (!made) {
    const names = typeof types === 'string' ? [types] : [...types];
    const mask = new Uint8Array(TYPE_IDS);
    for (const id of typeIds) if (names.includes(typeNames[id])) mask[id] = 1;
    masks.set(key, (made = { names, mask }));
  }
  return made.mask;
}

export class SyntaxNode {
  private kids?: SyntaxNode[];
  private named?: SyntaxNode[];

  constructor(
    readonly tree: SyntaxTree,
    /** Position in document order. */
    private readonly order: number,
  ) {}

  /** Unique per node, and across trees. */
  get id(): number {
    return this.tree.base + this.order;
  }

  get type(): string {
    return typeNames[this.tree.types[this.order]];
  }

  get isNamed(): boolean {
    return namedTypes[this.tree.types[this.order]] === 1;
  }

  get isMissing(): boolean {
    return this.tree.missing[this.order] === 1;
  }

  get startIndex(): number {
    return this.tree.starts[this.order];
  }

  get endIndex(): number {
    return this.tree.ends[this.order];
  }

  get parent(): SyntaxNode | null {
    const p = this.tree.parents[this.order];
    return p < 0 ? null : this.tree.node(p);
  }

  get children(): SyntaxNode[] {
    if (this.kids) return this.kids;
    const { tree } = this;
    const kids: SyntaxNode[] = [];
    for (let c = this.order + 1, end = this.subtreeEnd(); c < end; c += tree.sizes[c]) kids.push(tree.node(c));
    return (this.kids = kids);
  }

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
    for (let n: SyntaxNode = this; n.parent; n = n.parent) path.push(n.tree.places[n.order]);
    let node = this.tree.native.rootNode;
    for (let i = path.length - 1; i >= 0; i--) node = node.child(path[i])!;
    return node;
  }

  get namedChildren(): SyntaxNode[] {
    if (this.named) return this.named;
    if (this.kids) return (this.named = this.kids.filter((c) => c.isNamed));
    // Off the columns: the punctuation between a call's arguments is not made into objects.
    const { tree } = this;
    const { sizes, types } = tree;
    const named: SyntaxNode[] = [];
    for (let c = this.order + 1, end = this.subtreeEnd(); c < end; c += sizes[c]) if (namedTypes[types[c]]) named.push(tree.node(c));
    return (this.named = named);
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
    for (let i = this.tree.places[this.order] - 1; i >= 0; i--) if (siblings[i].isNamed) return siblings[i];
    return null;
  }

  get nextNamedSibling(): SyntaxNode | null {
    const siblings = this.parent?.children ?? [];
    for (let i = this.tree.places[this.order] + 1; i < siblings.length; i++) if (siblings[i].isNamed) return siblings[i];
    return null;
  }

  childForFieldName(name: string): SyntaxNode | null {
    // The cursor credits an ERROR's children with their hidden parents' fields; the node API
    // reads the ERROR's own (empty) field map.
    if (this.type === 'ERROR') return null;
    const at = this.fieldChild(name, this.order + 1);
    return at < 0 ? null : this.tree.node(at);
  }

  childrenForFieldName(name: string): SyntaxNode[] {
    const out: SyntaxNode[] = [];
    for (let at = this.fieldChild(name, this.order + 1); at >= 0; at = this.fieldChild(name, at + this.tree.sizes[at])) out.push(this.tree.node(at));
    return out;
  }

  /**
   * Position of the first child from position `from` on that fills field `name` (-1: none), read
   * off the columns: the analysis asks a field of most nodes, and making every sibling an object
   * for it made a third of all node objects (a list of positions, an eighth of all allocation).
   */
  private fieldChild(name: string, from: number): number {
    const id = fieldIds.get(name);
    if (id === undefined) return -1;
    const { sizes, fields } = this.tree;
    for (let c = from, end = this.subtreeEnd(); c < end; c += sizes[c]) if (fields[c] === id) return c;
    return -1;
  }

  /** The ERROR and MISSING nodes among this node and its descendants, in document order. */
  errorNodes(): SyntaxNode[] {
    const { tree } = this;
    const { types, missing } = tree;
    const out: SyntaxNode[] = [];
    for (let i = this.order, end = this.subtreeEnd(); i < end; i++) if (types[i] === ERROR_ID || missing[i]) out.push(tree.node(i));
    return out;
  }

  /** This node and everything below it, in document order. */
  descendants(): SyntaxNode[] {
    const out: SyntaxNode[] = [];
    for (let i = this.order, end = this.subtreeEnd(); i < end; i++) out.push(this.tree.node(i));
    return out;
  }

  /**
   * Nodes of the given type(s) among this node and its descendants, in document order — as the
   * binding returns them, which also skips empty nodes at the very start of the file. Only the
   * nodes found are made into objects; with `where`, only those whose text it accepts (a file's
   * 40,000 identifiers searched for the names of its functions).
   */
  descendantsOfType(types: string | string[], where?: (text: string) => boolean): SyntaxNode[] {
    const { tree } = this;
    const { types: ids, starts, ends, source } = tree;
    const out: SyntaxNode[] = [];
    const end = this.subtreeEnd();
    const take = (i: number) => ends[i] > 0 && (!where || where(source.slice(starts[i], ends[i])));
    // Most calls ask a small subtree (an expression), where making the key of a mask costs more
    // than comparing names.
    if (end - this.order < SMALL_SUBTREE) {
      const names = typeof types === 'string' ? [types] : types;
      for (let i = this.order; i < end; i++) if (names.includes(typeNames[ids[i]]) && take(i)) out.push(tree.node(i));
      return out;
    }
    const wanted = typeMask(types);
    for (let i = this.order; i < end; i++) if (wanted[ids[i]] && take(i)) out.push(tree.node(i));
    return out;
  }

  /** One past this node's last descendant in document order. */
  private subtreeEnd(): number {
    return this.order + this.tree.sizes[this.order];
  }
}
