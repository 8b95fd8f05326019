/**
 * Values and storage of the simulated C program. Objects are created on demand: reading a
 * field nobody wrote yields an opaque value that becomes an object the moment it is
 * dereferenced, so driver structs never need declaring.
 */

/** Something that went wrong in the simulated program itself (NULL dereference, runaway loop). */
export class Fault extends Error {}

export type Val = number | Ptr | Sym;

export class Obj {
  // Created on first use: most objects are variable cells that only ever use slot 0.
  private fieldMap?: Map<string, Val>;
  private slotMap?: Map<number, Val>;
  private autoMap?: Map<string, Val>;

  get fields(): Map<string, Val> {
    return (this.fieldMap ??= new Map());
  }

  get slots(): Map<number, Val> {
    return (this.slotMap ??= new Map());
  }

  /** Elements of an array of structs (`sg[3].length`), distinct from pointer slots. */
  private elems?: Map<number, Obj>;
  freed = false;
  /** kzalloc/kcalloc memory reads as 0 where nothing was stored. */
  zeroed = false;
  /** Declared element count, when known (ARRAY_SIZE). */
  length?: number;
  /** A list head's entries, in order (list_add_tail & co.). */
  list?: Obj[];
  /** For an embedded member (`&buf->list`): the containing object, for container_of(). */
  parent?: Obj;
  /** The list this embedded list node is on. */
  onList?: Obj;
  /** Local variable cells are not memory the comparison looks at. */
  isCell = false;
  /** Allocated by the simulated code (kmalloc & co.) or an entry point's argument. */
  onHeap = false;
  /** Opaque values read where nothing was stored, cached so every read agrees. */
  get auto(): Map<string, Val> {
    return (this.autoMap ??= new Map());
  }
  /** Storage of each field whose address was taken or that is an embedded struct. */
  private cells?: Map<string, FieldCell>;

  cell(name: string): FieldCell {
    this.cells ??= new Map();
    let c = this.cells.get(name);
    if (!c) this.cells.set(name, (c = new FieldCell(this, name)));
    return c;
  }

  fieldCells(): Iterable<[string, FieldCell]> {
    return this.cells ?? [];
  }

  constructor(readonly label: string) {}

  elem(i: number): Obj {
    this.elems ??= new Map();
    let e = this.elems.get(i);
    if (!e) {
      e = new Obj(`${this.label}[${i}]`);
      e.parent = this;
      e.zeroed = this.zeroed;
      this.elems.set(i, e);
    }
    return e;
  }

  elements(): Iterable<[number, Obj]> {
    return this.elems ?? [];
  }
}

/**
 * The storage of one field: `&x->f` points here. Slot 0 *is* the field's value, unless the field
 * is an embedded array; its own fields are the members of an embedded struct (`x->sg_head.sgl`).
 */
export class FieldCell extends Obj {
  /** An array embedded in the struct: its slots are the elements, slot 0 included. */
  array = false;

  constructor(readonly owner: Obj, readonly name: string) {
    super(`${owner.label}.${name}`);
    this.parent = owner;
    this.zeroed = owner.zeroed;
  }
}

export class Ptr {
  constructor(readonly obj: Obj, readonly off: number) {}
}

/**
 * An opaque value: the result of a call we cannot see into, a parameter, a field nobody
 * wrote. `key` names it stably so the before and after runs agree on it; `atoms` are the
 * opaque inputs it was computed from (scenarios bind those to concrete numbers).
 */
export class Sym {
  obj?: Obj;
  constructor(readonly key: string, readonly atoms: readonly string[]) {}
}

const MAX_KEY = 160;

/** Keys of derived values stay short and deterministic however long the loop runs. */
export function derivedKey(text: string): string {
  if (text.length <= MAX_KEY) return text;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return `${text.slice(0, 60)}…#${h.toString(16)}`;
}

export function symOf(key: string, ...inputs: Val[]): Sym {
  const atoms = new Set<string>();
  for (const v of inputs) if (v instanceof Sym) for (const a of v.atoms) atoms.add(a);
  return new Sym(derivedKey(key), [...atoms]);
}

/** Stable, human-readable text of a value, used in traces and comparisons. */
export function show(v: Val | undefined): string {
  if (v === undefined) return '?';
  if (typeof v === 'number') return String(v);
  if (v instanceof Ptr) return v.off ? `&${v.obj.label}[${v.off}]` : `&${v.obj.label}`;
  return v.key;
}

/** Where a value lives: a slot of an object (array element, variable) or a named field. */
export type Loc = { obj: Obj; slot: number; field?: undefined } | { obj: Obj; field: string; slot?: undefined };

/** Element `i` of an array of structs; element 0 is the array object itself, as in C. */
export const element = (obj: Obj, i: number): Obj => (i ? obj.elem(i) : obj);

/** The object `v` points into and the offset in it; an opaque value becomes an object here. */
export function baseOf(v: Val, what: string): { obj: Obj; off: number } {
  if (v instanceof Ptr) return { obj: v.obj, off: v.off };
  if (v instanceof Sym) return { obj: (v.obj ??= new Obj(v.key)), off: 0 };
  throw new Fault(v === 0 ? `NULL dereference (${what})` : `dereference of the integer ${v} (${what})`);
}

/** The object `v` points at (an element of an array of structs when it points past the first). */
export function objectOf(v: Val, what: string): Obj {
  const b = baseOf(v, what);
  return element(b.obj, b.off);
}
