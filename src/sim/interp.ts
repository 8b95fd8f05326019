/**
 * The interpreter: runs lowered C functions against the page model. Values the code cannot
 * know (parameters, results of calls outside the file, fields nobody wrote) are opaque; a
 * branch on an opaque value asks the oracle, which makes the condition false unless the
 * scenario flips that decision — kernel code reads `if (bad) goto err;`, so "false" is the
 * normal path and each flip is one error path.
 */
import { EMITTED_NAMES } from '../sites/api.ts';
import { versionAtLeast, type TargetApi } from '../target.ts';
import { Facts, compared, isRelation, type Comparison } from './facts.ts';
import { structPointer, type Block, type Expr, type Func, type Stmt, type VarDecl } from './lower.ts';
import { Fault, FieldCell, Obj, Ptr, Sym, baseOf, derivedKey, element, notAnAddress, objectAt, show, symOf, type Loc, type Val } from './memory.ts';
import { ITERATORS, builtin, type Builtin } from './mm-api.ts';
import { Page, PageModel, type Folio } from './pages.ts';
import { keep } from './strings.ts';

type CallExpr = Extract<Expr, { t: 'call' }>;
type IdExpr = Extract<Expr, { t: 'id' }>;
type Access = 'read' | 'write';

/** How an opaque decision or value is settled in one run. */
export class Oracle {
  readonly decisions = new Map<string, boolean>();
  /** Keys in the order they were first decided. */
  readonly order: string[] = [];
  /** Index in `order` of the first decision made after the first acquire. */
  acquireAt?: number;

  constructor(
    readonly flips: ReadonlySet<string> = new Set(),
    readonly bindings: ReadonlyMap<string, number> = new Map(),
    /** Decisions the "before" run made: the "after" run must see the same world. */
    readonly seeded?: ReadonlyMap<string, boolean>,
    seededIndices?: ReadonlyMap<string, number>,
    /** What the "before" run's answers say about its opaque integers. */
    seededFacts?: Facts,
  ) {
    this.indices = new Map(seededIndices);
    this.facts = seededFacts ? seededFacts.clone() : new Facts();
    for (const key of bindings.keys()) this.boundLengths.add(key.length);
  }

  /**
   * Lengths of the bound keys: few inputs are ever bound, and most keys asked about are new
   * strings that a map lookup would have to hash first.
   */
  private readonly boundLengths = new Set<number>();

  /** The number the scenario binds the opaque input `key` to, if any. */
  bound(key: string): number | undefined {
    return this.boundLengths.has(key.length) ? this.bindings.get(key) : undefined;
  }

  /** Array indices the run chose for opaque index values. */
  readonly indices: Map<string, number>;

  /**
   * An opaque array index gets a concrete value, distinct per value and in order of first use,
   * so that `tab->page[index / N]` written by one entry point is the element a later
   * `for (i = 0; i < tab->npages; i++)` walk finds.
   */
  index(key: string): number {
    let i = this.indices.get(key);
    if (i === undefined) this.indices.set(key, (i = this.indices.size));
    return i;
  }

  /**
   * Decisions made before the acquire and consulted again after it: the write flag that chose
   * FOLL_WRITE and later says whether to dirty, in order of reconsultation.
   */
  readonly reconsulted = new Set<string>();
  private readonly position = new Map<string, number>();

  /** What the answers to comparisons of opaque integers with numbers say about them. */
  readonly facts: Facts;

  /**
   * The truth of the opaque condition `key`. A comparison of an opaque integer with a number
   * (`test`) that earlier answers settle gets the settled answer, in the after run as in the
   * before one: that is no decision, so it is kept out of the order no scenario flips.
   */
  decide(key: string, negated: boolean, test?: Comparison): boolean {
    let v = this.decisions.get(key);
    if (v !== undefined) {
      const at = this.position.get(key);
      if (this.acquireAt !== undefined && at !== undefined && at < this.acquireAt) this.reconsulted.add(key);
      return v;
    }
    v = this.seeded?.get(key);
    if (v === undefined && test) {
      const settled = this.facts.implied(test);
      if (settled !== undefined) {
        this.decisions.set(key, settled);
        return settled;
      }
    }
    v ??= this.flips.has(key) ? !negated : negated;
    key = keep(key);
    this.decisions.set(key, v);
    this.position.set(key, this.order.length);
    this.order.push(key);
    if (test) this.facts.learn(test, v);
    return v;
  }
}

/**
 * One acquire call: what it asked for (`fixed`: as a constant of the code, not an input), and
 * what it returned.
 */
export interface GupResultLog {
  asked: number;
  fixed: boolean;
  got: number;
}

/** What the GUP model returns for the i-th acquire call asked for `n` pages. */
export type GupResult = (call: number, n: number) => number;

export interface RunConfig {
  api: TargetApi;
  oracle: Oracle;
  gup: GupResult;
  folioOrder: number;
  mapping: 'anon' | 'file';
  writeback: boolean;
  /** The user pages are dirty before the acquire: the user wrote them (see Scenario.userDirty). */
  userDirty?: boolean;
  zeroPage: boolean;
  /** The user pages are not physically contiguous. */
  scattered?: boolean;
  /** Pages an acquire asks for when its count stayed opaque. */
  pagesWhenOpaque: number;
  /** Discovery only needs to see the first acquire's arguments: stop the run there. */
  stopAtFirstAcquire?: boolean;
  /**
   * After runs: the functions the conversion left as they were. What their acquires take belongs
   * to a group that was not converted (one a notifier manages, beside a converted one): nothing
   * says it must be pinned.
   */
  untouched?: ReadonlySet<string>;
}

/** Ends a discovery run at its first acquire. */
export class StopRun extends Fault {}

class Goto {
  constructor(readonly label: string) {}
}
class Return {
  constructor(readonly value: Val) {}
}
const BREAK = { brk: true } as const;
const CONTINUE = { cont: true } as const;
type Completion = undefined | Goto | Return | typeof BREAK | typeof CONTINUE;

/**
 * Runs work on 0–3 pages: the longest run of a fixture takes under 210 steps, of the 6.1 and
 * 6.12 trees under 530. A loop that makes no progress (a bound an unknown macro made 0) ends
 * here, and before and after both fault alike; a higher limit only spends time on such runs
 * (at 10,000, 60 % of book3s_64_mmu_hv's steps were in its 12 runaway runs; every verdict,
 * count and trace of the fixtures and both trees is the same at 2,000).
 */
const STEP_LIMIT = 2_000;
const DEPTH_LIMIT = 24;
const ERRNO_MAX = 4095;

/**
 * A call's variables, by slot (Func.locals). A variable's value is kept in the frame; only once
 * its address is taken does it get a cell in memory, which from then on holds the value. Most
 * variables never need one, and making one for every declaration was a good part of the cost of
 * running code.
 */
interface Frame {
  names: FrameNames;
  /**
   * Undefined until the declaration runs; UNSET while its initialiser is evaluated; UNINIT for
   * one declared without an initialiser and not read yet.
   */
  values: Array<Val | typeof UNSET | typeof UNINIT | undefined>;
  cells?: Array<Obj | undefined>;
  /** Declared as an array or a struct by value: the variable stands for its storage. */
  aggregate?: boolean[];
  types: Array<string | undefined>;
}

const UNSET = Symbol('unset');
/**
 * Declared without an initialiser: its opaque value is made when it is first read. Most such
 * variables are assigned before that, and a loop declares them on every pass.
 */
const UNINIT = Symbol('uninit');

/** The strings a function's frames use, built once per function rather than on every call. */
interface FrameNames {
  /** `fn.var`: the label of each variable's cell. */
  labels: string[];
  /** Where each parameter lives. */
  paramSlots: number[];
  /** Opaque value of a parameter the caller did not pass. */
  missingArgs: string[];
  /** Opaque value of a variable declared without an initialiser. */
  uninit: string[];
  /** The parameters' types by slot, copied for each call's `types`. */
  paramTypes: Array<string | undefined>;
}

const frameNames = new WeakMap<Func, FrameNames>();

function namesOf(fn: Func): FrameNames {
  let names = frameNames.get(fn);
  if (!names) {
    const labels = fn.locals.map((v) => `${fn.name}.${v}`);
    const paramTypes = new Array<string | undefined>(labels.length);
    for (const p of fn.params) paramTypes[fn.locals.indexOf(p.name)] = p.type;
    names = {
      labels,
      paramSlots: fn.params.map((p) => fn.locals.indexOf(p.name)),
      missingArgs: fn.params.map((p) => `param:${fn.name}:${p.name}`),
      uninit: labels.map((l) => `uninit:${l}`),
      paramTypes,
    };
    frameNames.set(fn, names);
  }
  return names;
}

const aliases = new WeakMap<ReadonlyMap<string, Func>, Map<Func, string>>();

/**
 * The name a run's functions know `fn` by: its own, or the original name of a function the
 * conversion renamed (src/sim/verify.ts maps it there), so its address is the same value in both
 * runs.
 */
function knownAs(funcs: ReadonlyMap<string, Func>, fn: Func): string {
  let names = aliases.get(funcs);
  if (!names) {
    names = new Map();
    for (const [name, f] of funcs) if (name !== f.name) names.set(f, name);
    aliases.set(funcs, names);
  }
  return names.get(fn) ?? fn.name;
}

const models = new WeakMap<CallExpr, Builtin | null>();

/** The model of a call site's kernel function, if the simulator has one: looked up once per site. */
function modelOf(call: CallExpr): Builtin | undefined {
  let b = models.get(call);
  if (b === undefined) models.set(call, (b = builtin(call.name!) ?? null));
  return b ?? undefined;
}

/** A local variable's storage. */
function newCell(label: string): Obj {
  const cell = new Obj(label);
  cell.isCell = true;
  return cell;
}

export class Machine {
  readonly pages: PageModel;
  /** Calls into code the simulator cannot see, in order: both runs must make the same ones. */
  readonly events: string[] = [];
  /** Releases of pages whose origin the run does not know (family matters: put vs unpin). */
  readonly unknownReleases: string[] = [];
  /** Constructs the simulator does not model that the run went through. */
  readonly unsupported = new Set<string>();
  /** Every heap object, for the memory comparison. */
  readonly heap: Obj[] = [];
  readonly gupCounts: Val[] = [];
  /** What each acquire call was asked for and returned: the outcomes a run covered. */
  readonly gupResults: GupResultLog[] = [];
  /** The watched statements (the edited ones, see Span.watched) the run executed. */
  readonly executed = new Set<Stmt>();
  /** Names of the file's functions the run entered. */
  readonly entered = new Set<string>();
  /** The function running now. */
  current = '';
  gupCalls = 0;
  usedPins = false;
  /** Global variables by the number of their name in the file (see the `id` expression). */
  private readonly globals: Array<Obj | undefined> = [];
  /**
   * The last call of each name: a looping run makes the same calls over and over, and they share
   * one text rather than thousands of copies that would all have to survive garbage collection.
   */
  private readonly lastEvents = new Map<string, { args: Val[]; text: string }>();
  private readonly callCounts = new Map<string, number>();
  private readonly byType = new Map<string, Val>();
  private openFolio?: Folio;
  private openFolioUsed = 0;
  private steps = 0;
  private depth = 0;
  private allocs = 0;
  private frame?: Frame;

  constructor(
    readonly funcs: ReadonlyMap<string, Func>,
    readonly cfg: RunConfig,
  ) {
    this.pages = new PageModel({ zeroPageNotPinned: versionAtLeast(cfg.api.version, 6, 5), exactPincountOrder: 1, scattered: cfg.scattered });
  }

  // ---- values ---------------------------------------------------------------------------

  atom(key: string): Val {
    const bound = this.cfg.oracle.bound(key);
    return bound ?? new Sym(derivedKey(key), [key]);
  }

  truth(v: Val, negated: boolean): boolean {
    if (typeof v === 'number') return v !== 0;
    if (v instanceof Ptr) return true;
    if (v.negates) return !this.cfg.oracle.decide(v.negates.key, !negated);
    return this.cfg.oracle.decide(v.key, negated, v.test);
  }

  alloc(label: string, zeroed: boolean, length?: number | Sym): Ptr {
    const o = new Obj(`${label}#${++this.allocs}`);
    o.zeroed = zeroed;
    if (length !== undefined) o.length = length;
    o.onHeap = true;
    this.heap.push(o);
    return new Ptr(o, 0);
  }

  /** Entry-point argument of a declared type: one object per struct type per session. */
  argument(name: string, type: string): Val {
    const t = structPointer(type);
    if (t) {
      let v = this.byType.get(t);
      if (!v) this.byType.set(t, (v = this.alloc(`arg(${t})`, false)));
      return v;
    }
    // Entry points of one session see one value per parameter name: the same `index`.
    return this.atom(`param:${name}`);
  }

  /** The session's object of `type` (`struct foo *`), if a step already has one. */
  sessionObject(type: string): Val | undefined {
    const t = structPointer(type);
    return t ? this.byType.get(t) : undefined;
  }

  /** An object built or returned as `type` is what later steps taking that type get. */
  remember(type: string, v: Val) {
    const t = structPointer(type);
    // Only objects, not arrays of pointers to them.
    if (t?.endsWith(' *') && v instanceof Ptr && !v.off) this.byType.set(t, v);
  }

  count(name: string): number {
    const n = (this.callCounts.get(name) ?? 0) + 1;
    this.callCounts.set(name, n);
    return n;
  }

  // ---- memory -----------------------------------------------------------------------------

  load(loc: Loc): Val {
    return loc.field !== undefined ? this.loadField(loc.obj, loc.field) : this.loadSlot(loc.obj, loc.slot);
  }

  private loadSlot(obj: Obj, slot: number): Val {
    if (obj.freed) throw new Fault(`read of freed memory ${obj.label}`);
    if (obj instanceof FieldCell && !obj.array && slot === 0) return this.loadField(obj.owner, obj.name);
    const v = obj.slot(slot);
    if (v !== undefined) return v;
    return this.autoValue(obj, `[${slot}]`);
  }

  private loadField(obj: Obj, name: string): Val {
    if (obj.freed) throw new Fault(`read of freed memory ${obj.label}`);
    const v = obj.field(name);
    return v !== undefined ? v : this.autoValue(obj, `.${name}`);
  }

  private autoValue(obj: Obj, suffix: string): Val {
    if (obj.zeroed) return 0;
    let v = obj.autoValue(suffix);
    if (v === undefined) obj.setAutoValue(suffix, (v = this.atom(`${obj.label}${suffix}`)));
    return v;
  }

  store(loc: Loc, v: Val) {
    if (loc.field !== undefined) this.storeField(loc.obj, loc.field, v);
    else this.storeSlot(loc.obj, loc.slot, v);
  }

  private storeSlot(obj: Obj, slot: number, v: Val) {
    if (obj.freed) throw new Fault(`write to freed memory ${obj.label}`);
    if (obj instanceof FieldCell && !obj.array && slot === 0) obj.owner.setField(obj.name, v);
    else obj.setSlot(slot, v);
  }

  private storeField(obj: Obj, name: string, v: Val) {
    if (obj.freed) throw new Fault(`write to freed memory ${obj.label}`);
    obj.setField(name, v);
  }

  deref(p: Val, what: string): Val {
    const b = baseOf(p, what);
    return this.loadSlot(b.obj, b.off);
  }

  // ---- running --------------------------------------------------------------------------

  /** Call a function of the file with values for its parameters. */
  invoke(name: string, args: Val[]): Val {
    const fn = this.funcs.get(name);
    if (!fn) throw new Fault(`no function ${name}`);
    return this.run(fn, args);
  }

  private run(fn: Func, args: Val[]): Val {
    this.entered.add(fn.name);
    if (++this.depth > DEPTH_LIMIT) throw new Fault(`call depth over ${DEPTH_LIMIT} (recursion?)`);
    const saved = this.frame;
    const caller = this.current;
    this.current = fn.name;
    const names = namesOf(fn);
    // Every field from the start: frames of one shape keep the code using them optimised.
    const frame: Frame = { names, values: new Array(fn.locals.length), cells: undefined, aggregate: undefined, types: names.paramTypes.slice() };
    for (let i = 0; i < fn.params.length; i++) frame.values[names.paramSlots[i]] = args[i] ?? this.atom(names.missingArgs[i]);
    this.frame = frame;
    try {
      const c = this.exec(fn.body);
      if (c instanceof Goto) throw new Fault(`goto ${c.label}: label not found in a block the simulator can enter`);
      return c instanceof Return ? c.value : 0;
    } finally {
      this.frame = saved;
      this.current = caller;
      this.depth--;
    }
  }

  /** One step of work: a statement, or an entry a bulk release walks (a huge constant count must not run unbounded). */
  tick() {
    if (++this.steps > STEP_LIMIT) throw new Fault('runaway loop (step limit reached)');
  }

  private exec(s: Stmt): Completion {
    this.tick();
    if (s.watched) this.executed.add(s);
    switch (s.t) {
      case 'nop':
        return undefined;
      case 'expr':
        this.eval(s.e);
        return undefined;
      case 'decl':
        for (const v of s.vars) this.declare(v);
        return undefined;
      case 'block':
        return this.execBlock(s, 0);
      case 'label':
        return this.exec(s.s);
      case 'if':
        if (this.cond(s.c)) return this.exec(s.a);
        return s.b ? this.exec(s.b) : undefined;
      case 'for': {
        if (s.init) this.exec(s.init);
        while (!s.c || this.cond(s.c)) {
          const c = this.exec(s.body);
          if (c === BREAK) break;
          if (c !== undefined && c !== CONTINUE) return c;
          if (s.u) this.eval(s.u);
          this.tick();
        }
        return undefined;
      }
      case 'while':
        while (this.cond(s.c)) {
          const c = this.exec(s.body);
          if (c === BREAK) break;
          if (c !== undefined && c !== CONTINUE) return c;
          this.tick();
        }
        return undefined;
      case 'do':
        do {
          const c = this.exec(s.body);
          if (c === BREAK) break;
          if (c !== undefined && c !== CONTINUE) return c;
          this.tick();
        } while (this.cond(s.c));
        return undefined;
      case 'break':
        return BREAK;
      case 'continue':
        return CONTINUE;
      case 'ret':
        return new Return(s.e ? this.eval(s.e) : 0);
      case 'goto':
        return new Goto(s.label);
      case 'switch':
        return this.execSwitch(s);
      case 'macroloop':
        return this.execMacroLoop(s);
    }
  }

  // Not inline in exec(): a closure over `s` there would cost every statement a context.
  private execMacroLoop(s: Extract<Stmt, { t: 'macroloop' }>): Completion {
    const it = Object.hasOwn(ITERATORS, s.name) ? ITERATORS[s.name] : undefined;
    if (!it) {
      this.unsupported.add(`iterator macro ${s.name}()`);
      return undefined;
    }
    return it(this, s.args, () => {
      const c = this.exec(s.body);
      return c === BREAK ? 'break' : c === undefined || c === CONTINUE ? 'next' : { stop: c };
    }) as Completion;
  }

  /** Statements from `start` on; a `goto` to a label of this block resumes there. */
  private execBlock(b: Block, start: number): Completion {
    let i = start;
    while (i < b.body.length) {
      const c = this.exec(b.body[i]);
      if (c === undefined) {
        i++;
        continue;
      }
      const at = c instanceof Goto ? b.labels.get(c.label) : undefined;
      if (at === undefined) return c;
      i = at;
    }
    return undefined;
  }

  private execSwitch(s: Extract<Stmt, { t: 'switch' }>): Completion {
    const v = this.eval(s.c);
    let start = s.cases.find((c) => c.v === undefined)?.at;
    for (const c of s.cases) {
      if (c.v === undefined) continue;
      const cv = this.eval(c.v);
      const hit = typeof v === 'number' && typeof cv === 'number' ? v === cv : this.truth(compared('==', v, cv), false);
      if (hit) {
        start = c.at;
        break;
      }
    }
    if (start === undefined) return undefined;
    const c = this.execBlock(s.body, start);
    return c === BREAK ? undefined : c;
  }

  private declare({ slot, aggregate, type, length, init, zeroed }: VarDecl) {
    const frame = this.frame!;
    // A new variable, so a new cell if its address is taken.
    if (frame.cells) frame.cells[slot] = undefined;
    frame.values[slot] = UNSET;
    if (aggregate || frame.aggregate) (frame.aggregate ??= [])[slot] = aggregate;
    if (aggregate) {
      const len = length ? this.eval(length) : undefined;
      this.setLocal(frame, slot, this.alloc(frame.names.labels[slot], !!zeroed, len instanceof Ptr ? undefined : len));
      return;
    }
    frame.types[slot] = type;
    if (init) this.assignVar(slot, this.eval(init));
    else frame.values[slot] = UNINIT;
  }

  /** What a variable declared without an initialiser holds until written (made once, when read). */
  private uninitialised(frame: Frame, slot: number): Val {
    const v = this.atom(frame.names.uninit[slot]);
    frame.values[slot] = v;
    return v;
  }

  /**
   * A struct the code allocates is the one later entry points of the session get: what
   * `xmr_register()` builds is what `xmr_unmap_table()` tears down.
   */
  private assignVar(slot: number, v: Val) {
    const frame = this.frame!;
    this.setLocal(frame, slot, v);
    const type = frame.types[slot];
    if (type && v instanceof Ptr && v.obj.onHeap && !v.obj.label.startsWith('arg(')) this.remember(type, v);
  }

  /** The local variable in `slot` if its declaration has run (else the name means a global). */
  private local(slot: number | undefined): Frame | undefined {
    const frame = this.frame;
    return slot !== undefined && frame?.values[slot] !== undefined ? frame : undefined;
  }

  private getLocal(frame: Frame, slot: number): Val {
    const cell = frame.cells?.[slot];
    if (cell) return this.loadSlot(cell, 0);
    const v = frame.values[slot]!;
    // Read inside its own initialiser: what an unwritten cell reads as.
    if (v === UNSET) return this.loadSlot(this.cellOf(frame, slot), 0);
    return v === UNINIT ? this.uninitialised(frame, slot) : v;
  }

  private setLocal(frame: Frame, slot: number, v: Val) {
    const cell = frame.cells?.[slot];
    // An undefined value (a model given too few arguments) is what an unwritten cell holds.
    if (cell || v === undefined) (cell ?? this.cellOf(frame, slot)).setSlot(0, v);
    else frame.values[slot] = v;
  }

  /** The value of the local variable in `slot` as its cell holds it, unchecked (undefined if unset). */
  private rawLocal(frame: Frame, slot: number): Val | undefined {
    const cell = frame.cells?.[slot];
    if (cell) return cell.slot(0);
    const v = frame.values[slot];
    return v === UNSET ? undefined : v === UNINIT ? this.uninitialised(frame, slot) : v;
  }

  /** The cell of a local variable, made when its address is first taken. */
  private cellOf(frame: Frame, slot: number): Obj {
    const cells = (frame.cells ??= []);
    let cell = cells[slot];
    if (!cell) {
      cell = newCell(frame.names.labels[slot]);
      const v = frame.values[slot];
      if (v !== UNSET) cell.setSlot(0, v === UNINIT ? this.uninitialised(frame, slot) : v!);
      cells[slot] = cell;
    }
    return cell;
  }

  /** Where the variable `e` lives as memory: its cell, or a global's (created if new). */
  private variableCell(e: IdExpr): Obj {
    const frame = this.local(e.slot);
    return frame ? this.cellOf(frame, e.slot!) : this.global(e);
  }

  private global({ name, global }: IdExpr): Obj {
    let g = this.globals[global];
    if (!g) {
      g = new Obj(`global.${name}`);
      g.isCell = true;
      g.setSlot(0, this.atom(`id:${name}`));
      this.globals[global] = g;
    }
    return g;
  }

  // ---- expressions ----------------------------------------------------------------------

  /** Truth of a condition; `negated` is the polarity the opaque parts are seen under. */
  cond(e: Expr, negated = false): boolean {
    if (e.t === 'un' && e.op === '!') return !this.cond(e.e, !negated);
    if (e.t === 'bin' && e.op === '&&') return this.cond(e.l, negated) && this.cond(e.r, negated);
    if (e.t === 'bin' && e.op === '||') return this.cond(e.l, negated) || this.cond(e.r, negated);
    if (e.t === 'call' && (e.name === 'likely' || e.name === 'unlikely') && e.args.length === 1) return this.cond(e.args[0], negated);
    return this.truth(this.eval(e), negated);
  }

  /** Where `e` lives, for a read or a write of it. */
  loc(e: Expr, access: Access = 'read'): Loc {
    switch (e.t) {
      case 'id':
        return { obj: this.variableCell(e), slot: 0 };
      case 'idx': {
        const base = baseOf(this.eval(e.e), 'index');
        const i = this.index(e.i, base, access);
        if (typeof i === 'number') return { obj: base.obj, slot: base.off + i };
        return { obj: base.obj, field: `[${show(i)}]` };
      }
      case 'fld':
        return { obj: this.fieldOwner(e, access), field: e.name };
      case 'deref': {
        const b = baseOf(this.eval(e.e), 'dereference');
        if (b.off) this.withinBounds(b.obj, b.off, access);
        return { obj: b.obj, slot: b.off };
      }
      case 'cast':
        return this.loc(e.e, access);
      default:
        throw new Fault(`not an lvalue: ${e.t}`);
    }
  }

  /**
   * The object whose field `e.name` is accessed: through a pointer, or an embedded struct.
   * Without `access`, only its address is wanted.
   */
  private fieldOwner(e: Extract<Expr, { t: 'fld' }>, access?: Access): Obj {
    if (!e.arrow && e.e.t === 'fld') {
      // `x->sg_head.sgl`: sg_head is a struct inside x.
      return this.fieldOwner(e.e, access).cell(e.e.name);
    }
    if (!e.arrow && e.e.t === 'idx') {
      const base = baseOf(this.eval(e.e.e), 'index');
      const i = this.index(e.e.i, base, access);
      return typeof i === 'number' ? element(base.obj, base.off + i) : base.obj.cell(`[${show(i)}]`);
    }
    const owner = this.eval(e.e);
    if (owner instanceof Ptr && owner.off && access) this.withinBounds(owner.obj, owner.off, access);
    if (owner instanceof Ptr || owner instanceof Sym) return objectAt(owner);
    // Spelled out only for the fault: fields are accessed too often to build the text each time.
    throw notAnAddress(owner, `${e.arrow ? '->' : '.'}${e.name}`);
  }

  /** An array member decays to the address of its first element, which lives in the struct. */
  private embeddedArray(e: Extract<Expr, { t: 'fld' }>): Ptr {
    const cell = this.fieldOwner(e).cell(e.name);
    cell.array = true;
    return new Ptr(cell, 0);
  }

  /**
   * The value of an index expression, concrete whenever it is an opaque value. An index the code
   * computed is checked against the length of the array `base` points into, if it is accessed.
   */
  private index(e: Expr, base: { obj: Obj; off: number }, access?: Access): Val {
    const v = this.eval(e);
    if (v instanceof Sym) return this.cfg.oracle.index(v.key);
    if (access && typeof v === 'number') this.withinBounds(base.obj, base.off + v, access);
    return v;
  }

  /**
   * Fault on an access at `slot` of `obj` that its length proves is past the end: a number, or
   * an opaque count the run's answers bound (`0 < n` true and `1 < n` false make element 1 of
   * `n` one too far). A length nothing bounds proves nothing, and is not asked about.
   */
  private withinBounds(obj: Obj, slot: number, access: Access) {
    const length = obj.length;
    if (length === undefined || slot < 0) return;
    const range = typeof length === 'number' ? { lo: length, hi: length } : this.cfg.oracle.facts.boundedAbove(length.key);
    if (!range || slot < range.hi) return;
    const known = typeof length === 'number' ? '' : range.lo === range.hi ? ` = ${range.hi}` : ` ≤ ${range.hi}`;
    throw new Fault(`${access} past the end of ${obj.label}[] (index ${slot}, length ${show(length)}${known})`);
  }

  addressOf(e: Expr): Val {
    switch (e.t) {
      case 'id': {
        const frame = this.local(e.slot);
        if (frame?.aggregate?.[e.slot!]) return this.rawLocal(frame, e.slot!)!;
        if (!frame && !this.globals[e.global] && e.callee) return this.atom(`&${knownAs(this.funcs, e.callee)}`);
        return new Ptr(this.variableCell(e), 0);
      }
      case 'idx': {
        const base = baseOf(this.eval(e.e), 'index');
        const i = this.index(e.i, base);
        if (typeof i === 'number') return new Ptr(base.obj, base.off + i);
        return symOf(`&${base.obj.label}[${show(i)}]`, i);
      }
      case 'fld':
        return e.array ? this.embeddedArray(e) : new Ptr(this.fieldOwner(e).cell(e.name), 0);
      case 'deref':
        return this.eval(e.e);
      default:
        return symOf(`&(${e.t})`);
    }
  }

  eval(e: Expr): Val {
    switch (e.t) {
      case 'num':
        return e.v;
      case 'str':
        return this.atom(`str:${e.text.slice(0, 40)}`);
      case 'id': {
        const frame = this.local(e.slot);
        if (frame) return this.getLocal(frame, e.slot!);
        const g = this.globals[e.global];
        if (g) return this.loadSlot(g, 0);
        if (e.constant !== undefined) return e.constant;
        if (e.callee) return this.atom(`&${knownAs(this.funcs, e.callee)}`);
        return this.loadSlot(this.global(e), 0);
      }
      case 'bin':
        if (e.op === '&&' || e.op === '||') return this.cond(e) ? 1 : 0;
        return this.binary(e.op, this.eval(e.l), this.eval(e.r));
      case 'un': {
        if (e.op === '!') return this.cond(e) ? 1 : 0;
        const v = this.eval(e.e);
        if (typeof v !== 'number') return e.op === '+' ? v : symOf(`${e.op}${show(v)}`, v);
        return e.op === '-' ? -v : e.op === '~' ? -v - 1 : v;
      }
      case 'upd': {
        if (e.e.t === 'id' && this.local(e.e.slot)) return this.updateLocal(e.e.slot!, e.op, e.prefix);
        const loc = this.loc(e.e, 'write');
        const old = this.load(loc);
        const nv = this.binary(e.op === '++' ? '+' : '-', old, 1);
        this.store(loc, nv);
        return e.prefix ? nv : old;
      }
      case 'asg': {
        if (e.l.t === 'id' && this.local(e.l.slot)) return this.assignLocal(e.l.slot!, e.op, e.r);
        const loc = this.loc(e.l, 'write');
        const v = e.op === undefined ? this.eval(e.r) : this.binary(e.op, this.load(loc), this.eval(e.r));
        this.store(loc, v);
        return v;
      }
      case 'cond':
        return this.cond(e.c) ? this.eval(e.a) : this.eval(e.b);
      case 'cast': {
        const v = this.eval(e.e);
        if (typeof v === 'number' && /^(bool|_Bool)$/.test(e.type.trim())) return v ? 1 : 0;
        return v;
      }
      case 'sizeof':
        return 8;
      case 'deref': {
        const p = this.eval(e.e);
        if (p instanceof Ptr && p.off) this.withinBounds(p.obj, p.off, 'read');
        return this.deref(p, 'dereference');
      }
      case 'addr':
        return this.addressOf(e.e);
      case 'fld':
        if (e.array) return this.embeddedArray(e);
        return this.loadField(this.fieldOwner(e, 'read'), e.name);
      case 'idx':
        return this.load(this.loc(e));
      case 'call':
        return this.call(e);
      case 'comma':
        this.eval(e.l);
        return this.eval(e.r);
      case 'opaque':
        this.unsupported.add(`expression \`${e.text.slice(0, 40)}\``);
        return this.atom(`?${e.text.slice(0, 60)}`);
    }
  }

  /** `x = r` or `x op= r` on a local variable. */
  private assignLocal(slot: number, op: string | undefined, r: Expr): Val {
    const frame = this.frame!;
    const v = op === undefined ? this.eval(r) : this.binary(op, this.getLocal(frame, slot), this.eval(r));
    this.assignVar(slot, v);
    return v;
  }

  /** `x++` and company on a local variable: a store, like any other (not an assignment). */
  private updateLocal(slot: number, op: '++' | '--', prefix: boolean): Val {
    const frame = this.frame!;
    const old = this.getLocal(frame, slot);
    const nv = this.binary(op === '++' ? '+' : '-', old, 1);
    const cell = frame.cells?.[slot];
    if (cell) this.storeSlot(cell, 0, nv);
    else this.setLocal(frame, slot, nv);
    return prefix ? nv : old;
  }

  binary(op: string, l: Val, r: Val): Val {
    if (typeof l === 'number' && typeof r === 'number') return arith(op, l, r);
    if (l instanceof Ptr && typeof r === 'number') {
      if (op === '+') return new Ptr(l.obj, l.off + r);
      if (op === '-') return new Ptr(l.obj, l.off - r);
      if (op === '==' || op === '!=') return op === '!=' ? 1 : 0;
    }
    if (typeof l === 'number' && r instanceof Ptr) {
      if (op === '+') return new Ptr(r.obj, r.off + l);
      if (op === '==' || op === '!=') return op === '!=' ? 1 : 0;
    }
    if (l instanceof Ptr && r instanceof Ptr && l.obj === r.obj) {
      if (op === '-') return l.off - r.off;
      if (isRelation(op)) return arith(op, l.off, r.off);
    }
    if (l instanceof Ptr && r instanceof Ptr && (op === '==' || op === '!=')) return op === '!=' ? 1 : 0;
    // The same opaque value on both sides: `(max(a, b) - b)` once b won; `gpa == vpap->next_gpa`
    // re-read under the lock, nothing having written it (one thread runs).
    if (l instanceof Sym && r instanceof Sym && l.key === r.key) {
      if (op === '-') return 0;
      if (isRelation(op)) return op === '==' || op === '<=' || op === '>=' ? 1 : 0;
    }
    // x + 0, x - 0, x * 1, x << 0 are x: keep keys of equal values equal.
    if (r === 0 && ZERO_IS_IDENTITY.has(op)) return l;
    if (r === 1 && (op === '*' || op === '/')) return l;
    if (l === 0 && (op === '+' || op === '|')) return r;
    if (l === 1 && op === '*') return r;
    if (isRelation(op)) return compared(op, l, r);
    return symOf(`(${show(l)}${op}${show(r)})`, l, r);
  }

  private call(e: CallExpr): Val {
    const name = e.name;
    if (!name) {
      const args = this.evalAll(e.args);
      return this.opaque(`(*${exprLabel(e.fn)})`, args);
    }
    // The file's own function runs, except where the file defines a kernel function the simulator
    // models (mm.h's own put_page()): that call runs as the model, as in every file that calls
    // it. The names a conversion emits are no such function: a driver's own static
    // pin_user_pages() is a helper of its own (the name clash the conversion renames).
    const b = modelOf(e);
    if (e.callee && (!b || EMITTED_NAMES.has(name)) && !this.local(e.slot) && !this.globals[e.global]) return this.run(e.callee, this.evalAll(e.args));
    if (b) {
      const args = this.evalAll(e.args);
      try {
        return b(this, args, e);
      } catch (x) {
        // Said once, where it happened: a model-fault needs the call on both sides.
        if (x instanceof Fault) x.call ??= name;
        throw x;
      }
    }
    return this.opaque(name, this.evalAll(e.args));
  }

  private evalAll(es: Expr[]): Val[] {
    // Sized once: an array grown by push() starts with room for 17 values, and every call
    // makes one.
    const vs = new Array<Val>(es.length);
    for (let i = 0; i < es.length; i++) vs[i] = this.eval(es[i]);
    return vs;
  }

  /** A call the simulator cannot see into: an event both runs must make alike. */
  opaque(name: string, args: Val[]): Val {
    for (const a of args) if (a instanceof Ptr && a.obj instanceof Page) this.pages.touch(a.obj, name);
    this.record(name, args);
    this.device();
    return this.atom(`${name}()#${this.count(name)}`);
  }

  /** A call both runs must make alike, in the same order with the same arguments. */
  record(name: string, args: Val[]) {
    const last = this.lastEvents.get(name);
    if (last && sameValues(last.args, args)) {
      this.events.push(last.text);
      return;
    }
    const text = `${name}(${args.map(show).join(', ')})`;
    if (last) {
      last.args = args;
      last.text = text;
    } else this.lastEvents.set(name, { args, text });
    this.events.push(text);
  }

  /** The device runs while pages are held: it writes into them (and writeback may strike). */
  device() {
    if (this.pages.holding) this.pages.deviceWrites(this.cfg.writeback, this.usedPins && this.cfg.api.family === 'pin');
  }

  page(v: Val, what: string): Page | undefined {
    if (v instanceof Ptr && v.obj instanceof Page) return v.off ? this.nthPage(v.obj, v.off) : v.obj;
    if (v === 0) throw new Fault(`NULL page passed to ${what}()`);
    return undefined;
  }

  nthPage(p: Page, n: number): Page {
    const q = this.pages.byPfn.get(p.pfn + n);
    if (!q) throw new Fault(`page ${n} after ${p.label} does not exist`);
    return q;
  }

  /** The next user page GUP returns: consecutive ones share a large folio if the scenario has one. */
  userPage(): Page {
    if (this.cfg.zeroPage) return this.pages.zeroPage();
    const f = this.openFolio;
    if (f && this.openFolioUsed < f.pages.length) return f.pages[this.openFolioUsed++];
    this.openFolio = this.pages.newFolio(this.cfg.folioOrder, this.cfg.mapping, this.cfg.writeback || !!this.cfg.userDirty);
    this.openFolioUsed = 1;
    return this.openFolio.pages[0];
  }

  isErrorValue(v: Val): boolean {
    return typeof v === 'number' && v < 0 && v >= -ERRNO_MAX;
  }
}

/** Values that show() the same: the same number, opaque value or address. */
function sameValues(xs: Val[], ys: Val[]): boolean {
  if (xs.length !== ys.length) return false;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const y = ys[i];
    if (x !== y && !(x instanceof Ptr && y instanceof Ptr && x.obj === y.obj && x.off === y.off)) return false;
  }
  return true;
}

/** Operators for which `x op 0` is `x`. */
const ZERO_IS_IDENTITY = new Set(['+', '-', '<<', '>>', '|', '^']);

const isInt32 = (x: number) => (x | 0) === x;

function arith(op: string, l: number, r: number): number {
  switch (op) {
    case '+': return l + r;
    case '-': return l - r;
    case '*': return l * r;
    case '/': return r === 0 ? NaN : Math.trunc(l / r);
    case '%': return r === 0 ? NaN : l % r;
    case '<<': return l * 2 ** r;
    case '>>': return Math.floor(l / 2 ** r);
    // Within 32 bits JavaScript's own operators give the 64-bit result.
    case '&': return isInt32(l) && isInt32(r) ? l & r : Number(BigInt.asIntN(64, BigInt(Math.trunc(l)) & BigInt(Math.trunc(r))));
    case '|': return isInt32(l) && isInt32(r) ? l | r : Number(BigInt.asIntN(64, BigInt(Math.trunc(l)) | BigInt(Math.trunc(r))));
    case '^': return isInt32(l) && isInt32(r) ? l ^ r : Number(BigInt.asIntN(64, BigInt(Math.trunc(l)) ^ BigInt(Math.trunc(r))));
    case '==': return l === r ? 1 : 0;
    case '!=': return l !== r ? 1 : 0;
    case '<': return l < r ? 1 : 0;
    case '>': return l > r ? 1 : 0;
    case '<=': return l <= r ? 1 : 0;
    case '>=': return l >= r ? 1 : 0;
    default: return NaN;
  }
}

function exprLabel(e: Expr): string {
  switch (e.t) {
    case 'id': return e.name;
    case 'fld': return `${exprLabel(e.e)}${e.arrow ? '->' : '.'}${e.name}`;
    case 'deref': return `*${exprLabel(e.e)}`;
    default: return e.t;
  }
}
