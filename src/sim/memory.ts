/**
 * Values and storage of the simulated C program. Objects are created on demand: reading a
 * field nobody wrote yields an opaque value that becomes an object the moment it is
 * dereferenced, so driver structs never need declaring.
 */
import type { Comparison } from './facts.ts';

/** Something that went wrong in the simulated program itself (NULL dereference, runaway loop). */
export class Fault extends Error {
  /** The modelled kernel call that faulted, if it was one (not the simulated code around it). */
  call?: string;

  constructor(message: string) {
    // A verdict on the simulated code, not a bug here: its stack trace is never wanted, and
    // capturing one for every run that stops early is a noticeable cost.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
  }
}

export type Val = number | Ptr | Sym;

/** What an object holds besides slot 0, and its rarer properties. */
interface Contents {
  slots?: Map<number, Val>;
  fields?: Map<string, Val>;
  auto?: Map<string, Val>;
  cells?: Map<string, FieldCell>;
  elems?: Map<number, Obj>;
  length?: number | Sym;
  list?: Obj[];
  parent?: Obj;
  onList?: Obj;
}

export class Obj {
  // Many objects (variable cells, globals) only ever use slot 0: it is kept apart, and the rest
  // is made on first write, so those stay small.
  private slot0?: Val;
  private hasSlot0 = false;
  private more?: Contents;
  freed = false;
  /** kzalloc/kcalloc memory reads as 0 where nothing was stored. */
  zeroed = false;
  /** Local variable cells are not memory the comparison looks at. */
  isCell = false;
  /** Allocated by the simulated code (kmalloc & co.) or an entry point's argument. */
  onHeap = false;

  constructor(readonly label: string) {}

  private get contents(): Contents {
    // Every field from the start: one shape for all of them keeps the code using them optimised.
    this.more ??= {
      slots: undefined, fields: undefined, auto: undefined, cells: undefined, elems: undefined,
      length: undefined, list: undefined, parent: undefined, onList: undefined,
    };
    return this.more;
  }

  slot(i: number): Val | undefined {
    return i === 0 ? this.slot0 : this.more?.slots?.get(i);
  }

  setSlot(i: number, v: Val) {
    if (i === 0) {
      this.slot0 = v;
      this.hasSlot0 = true;
    } else (this.contents.slots ??= new Map()).set(i, v);
  }

  /** Stored slots, in no particular order. */
  slots(): Array<[number, Val]> {
    const out: Array<[number, Val]> = this.hasSlot0 ? [[0, this.slot0!]] : [];
    if (this.more?.slots) for (const e of this.more.slots) out.push(e);
    return out;
  }

  field(name: string): Val | undefined {
    return this.more?.fields?.get(name);
  }

  setField(name: string, v: Val) {
    (this.contents.fields ??= new Map()).set(name, v);
  }

  fields(): Iterable<[string, Val]> {
    return this.more?.fields ?? [];
  }

  /** Opaque values read where nothing was stored, cached so every read agrees. */
  autoValue(suffix: string): Val | undefined {
    return this.more?.auto?.get(suffix);
  }

  setAutoValue(suffix: string, v: Val) {
    (this.contents.auto ??= new Map()).set(suffix, v);
  }

  autoValues(): Iterable<Val> {
    return this.more?.auto?.values() ?? [];
  }

  /** Storage of a field whose address was taken or that is an embedded struct. */
  cell(name: string): FieldCell {
    const cells = (this.contents.cells ??= new Map());
    let c = cells.get(name);
    if (!c) cells.set(name, (c = new FieldCell(this, name)));
    return c;
  }

  fieldCells(): Iterable<[string, FieldCell]> {
    return this.more?.cells ?? [];
  }

  /** Element `i` of an array of structs (`sg[3].length`), distinct from pointer slots. */
  elem(i: number): Obj {
    const elems = (this.contents.elems ??= new Map());
    let e = elems.get(i);
    if (!e) {
      e = new Obj(`${this.label}[${i}]`);
      e.parent = this;
      e.zeroed = this.zeroed;
      elems.set(i, e);
    }
    return e;
  }

  elements(): Iterable<[number, Obj]> {
    return this.more?.elems ?? [];
  }

  /**
   * Element count, when known: declared (ARRAY_SIZE), or what the allocation was sized for,
   * possibly an opaque count (`kcalloc(n, …)`, `kzalloc(struct_size(p, member, n), …)`).
   */
  get length(): number | Sym | undefined {
    return this.more?.length;
  }

  set length(n: number | Sym | undefined) {
    this.contents.length = n;
  }

  /** A list head's entries, in order (list_add_tail & co.). */
  get list(): Obj[] | undefined {
    return this.more?.list;
  }

  set list(l: Obj[] | undefined) {
    this.contents.list = l;
  }

  /** For an embedded member (`&buf->list`): the containing object, for container_of(). */
  get parent(): Obj | undefined {
    return this.more?.parent;
  }

  set parent(p: Obj | undefined) {
    this.contents.parent = p;
  }

  /** The list this embedded list node is on. */
  get onList(): Obj | undefined {
    return this.more?.onList;
  }

  set onList(l: Obj | undefined) {
    this.contents.onList = l;
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
  /** For a comparison of one opaque value with a number: which, so the oracle answers consistently. */
  test?: Comparison;
  /** For `(a!=b)` of two opaque values: `(a==b)`, whose answer it is the negation of. */
  negates?: Sym;
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
  let atoms: readonly string[] = NO_ATOMS;
  let merged: Set<string> | undefined;
  for (const v of inputs) {
    if (!(v instanceof Sym) || v.atoms === atoms) continue;
    // A value's atoms are already distinct: one opaque input's list serves as it is.
    if (atoms === NO_ATOMS) atoms = v.atoms;
    else {
      merged ??= new Set(atoms);
      for (const a of v.atoms) merged.add(a);
    }
  }
  return new Sym(derivedKey(key), merged ? [...merged] : atoms);
}

const NO_ATOMS: readonly string[] = [];

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
  throw notAnAddress(v, what);
}

/** The object `v` points at (an element of an array of structs when it points past the first). */
export function objectOf(v: Val, what: string): Obj {
  if (v instanceof Ptr || v instanceof Sym) return objectAt(v);
  throw notAnAddress(v, what);
}

export function objectAt(v: Ptr | Sym): Obj {
  return v instanceof Ptr ? element(v.obj, v.off) : (v.obj ??= new Obj(v.key));
}

/** Dereferencing `v`, which is not an address, for `what`. */
export function notAnAddress(v: Val, what: string): Fault {
  return new Fault(v === 0 ? `NULL dereference (${what})` : `dereference of the integer ${v} (${what})`);
}
