/**
 * The kernel API as the simulator knows it: GUP and every release call (both families and the
 * 5.3–5.5 interim API), dirtying and the page lock, page sources that are not GUP, scatterlists
 * and lists, allocators, locks and the macros counting code leans on. Everything else is an
 * opaque call.
 */
import { ACQUIRE_NAMES, ARRAY_ALLOCATORS, ATOMIC_ENTER_RE, ATOMIC_LEAVE_RE, OUTPARAM_SOURCES, RVALUE_SOURCES, acquireLayout, zeroingAllocation, type AcquireLayout } from '../sites/api.ts';
import { ERRNO } from './constants.ts';
import { compared } from './facts.ts';
import { StopRun, type Machine } from './interp.ts';
import type { Expr } from './lower.ts';
import { Fault, FieldCell, Ptr, Sym, baseOf, element, objectOf, show, symOf, type Obj, type Val } from './memory.ts';
import { Page, PageAddress } from './pages.ts';
import { versionAtLeast } from '../target.ts';

type Call = Extract<Expr, { t: 'call' }>;
export type Builtin = (m: Machine, args: Val[], call: Call) => Val;
export type LoopStep = () => 'break' | 'next' | { stop: unknown };
export type Iterator = (m: Machine, args: Expr[], body: LoopStep) => unknown;


// ---- GUP -----------------------------------------------------------------------------------

function gup(name: string): Builtin {
  // Which argument is which depends only on the call site: worked out once per site.
  const layouts = new WeakMap<Call, AcquireLayout | undefined>();
  const pagesArg = `${name} pages`;
  return (m, args, call) => {
    if (!layouts.has(call)) layouts.set(call, acquireLayout(name, call.texts.map((text) => ({ text }))));
    const layout = layouts.get(call);
    if (!layout) {
      m.unsupported.add(`${name}() with ${args.length} arguments`);
      return m.opaque(name, args);
    }
    if (layout.family === 'pin') m.usedPins = true;
    if (!layout.variant.includes('fast_only')) m.pages.sleep(name);
    const countArg = args[layout.count];
    m.gupCounts.push(countArg);
    m.cfg.oracle.acquireAt ??= m.cfg.oracle.order.length;
    if (m.cfg.stopAtFirstAcquire) {
      m.gupCalls++;
      throw new StopRun('first acquire reached');
    }
    // An opaque count is the scenario's page count: the scenario could not bind it.
    const n = typeof countArg === 'number' ? countArg : m.cfg.pagesWhenOpaque;
    // What the acquire was asked for, the run's later comparisons of that count agree with: a
    // release loop over it walks n entries, `ret < count` after a short pin is true.
    if (countArg instanceof Sym) {
      const asked = { subject: countArg.key, op: '==' as const, k: n };
      if (m.cfg.oracle.facts.implied(asked) === undefined) m.cfg.oracle.facts.learn(asked, true);
    }
    // Scenarios use 0–3 pages; a huge constant count (FOLL_* flags passed as the count) would
    // make every run build that many pages: not a run the simulator can judge.
    if (n > MAX_GUP_PAGES) {
      m.unsupported.add(`${name}() of ${n} pages`);
      throw new StopRun(`${name}() of ${n} pages`);
    }
    const index = ++m.gupCalls;
    let k = n === 0 ? 0 : n < 0 ? -ERRNO.EINVAL : m.cfg.gup(index, n);
    if (layout.variant.includes('fast_only') && k < 0) k = 0;
    m.gupResults.push({ asked: n, fixed: typeof countArg === 'number', got: k });
    const base = baseOf(args[layout.pages], pagesArg);
    const got: string[] = [];
    for (let i = 0; i < k; i++) {
      const page = m.userPage();
      m.pages.grab(page, layout.family, !m.cfg.untouched?.has(m.current));
      m.store({ obj: base.obj, slot: base.off + i }, new Ptr(page, 0));
      got.push(page.label);
    }
    if (m.pages.logging) m.pages.note(`${name}(${n} pages) = ${k}${got.length ? `: ${got.join(' ')} ${layout.family === 'pin' ? 'pinned' : 'referenced'}` : ''}`);
    return k;
  };
}

// ---- releases ------------------------------------------------------------------------------

type Release = 'put' | 'unpin';

function releaseOne(m: Machine, v: Val, how: Release, op: string) {
  if (v === 0) {
    // The kernel would oops; for the comparison it is a release of something never acquired.
    if (how === 'unpin') m.pages.error('unpin-not-pinned', 'NULL', `${op}() on a NULL entry: nothing was pinned there`);
    else m.pages.error('over-release', 'NULL', `${op}() on a NULL entry: a release beyond the acquired pages`);
    return;
  }
  const p = m.page(v, op);
  if (!p) {
    // Garbage in, garbage out: a page of unknown origin (a caller's, or one an earlier call
    // of the acquirer stored) is released alike by both, whatever the family: the group is
    // converted whole, so its family changes with the acquire nobody here saw.
    m.unknownReleases.push(`release(${show(v)})`);
    return;
  }
  if (how === 'put') m.pages.put(p, op);
  else m.pages.unpin(p, op);
}

/** A drop of one page's reference, `op(page)`. */
const putOne = (op: string): Builtin => (m, a) => (releaseOne(m, a[0], 'put', op), 0);

/**
 * Mark dirty through the mapping unless already dirty, as the release helpers do; under the page
 * lock for the `_lock` ones.
 */
function dirtyUnlessDirty(m: Machine, v: Val, op: string, locked: boolean) {
  const p = m.page(v, op);
  if (!p) {
    m.unknownReleases.push(`dirty(${show(v)})`);
    return;
  }
  if (p.folio.dirty) return;
  if (locked) m.pages.lock(p, op);
  m.pages.dirty(p, 'mapping', op);
  if (locked) m.pages.unlock(p);
}

const OPAQUE_COUNT_LIMIT = 64;
const MAX_GUP_PAGES = 1024;
/** IS_ERR_VALUE(): the top 4095 values of an unsigned long are -errno codes. */
const MAX_ERRNO = 4095;

/**
 * How a release call takes its count: release_pages() an `int nr` (a negative one loops zero
 * times), the put_user_pages*() and unpin_*() family an `unsigned long npages` (a negative one is
 * a huge loop bound the walk runs off the array with).
 */
type CountType = 'int' | 'unsigned long';

/**
 * Walk `count` entries. An opaque count is walked exactly like `for (i = 0; i < count; i++)`
 * would be — same decisions — so a loop and the bulk call replacing it agree. The array is only
 * read for an entry: a walk of zero entries never dereferences it (`release_pages(NULL, 0)`).
 */
function arrayRelease(m: Machine, arr: Val, count: Val, op: string, type: CountType, each: (v: Val) => void, opts: { skipNull?: boolean } = {}) {
  if (typeof count === 'number' && count < 0) {
    if (type === 'int') return;
    throw new Fault(`${op}() with the negative count ${count}: a huge unsigned loop`);
  }
  const more = (i: number) => (typeof count === 'number' ? i < count : i < OPAQUE_COUNT_LIMIT && m.truth(m.binary('<', i, count), false));
  let base: { obj: Obj; off: number } | undefined;
  for (let i = 0; more(i); i++) {
    m.tick();
    base ??= baseOf(arr, op);
    const v = m.load({ obj: base.obj, slot: base.off + i });
    if (v === 0 && opts.skipNull) continue;
    each(v);
  }
}

/**
 * unpin_user_pages() returns early, with a WARN, on a count that looks like a -errno (5.10 on;
 * present in 6.1 and 6.12, absent from the 5.6 placeholder). unpin_user_pages_dirty_lock() only
 * has the guard when it hands over to unpin_user_pages(), i.e. without make_dirty.
 */
const unpinGuardsErrno = (m: Machine, count: Val) =>
  typeof count === 'number' && count < 0 && count >= -MAX_ERRNO && versionAtLeast(m.cfg.api.version, 5, 10);

function unpinPages(m: Machine, arr: Val, count: Val, dirty: boolean, op: string) {
  m.usedPins = true;
  if (!dirty && unpinGuardsErrno(m, count)) {
    m.pages.note(`${op}(${count}): WARN, nothing released`);
    return;
  }
  // It sleeps where it takes a page lock: on a page not yet dirty (dirtyUnlessDirty).
  arrayRelease(m, arr, count, op, 'unsigned long', (v) => {
    if (dirty) dirtyUnlessDirty(m, v, op, true);
    releaseOne(m, v, 'unpin', op);
  });
  m.pages.note(`${op}(${show(arr)}, ${show(count)}${dirty ? ', dirty' : ''})`);
}

function putPages(m: Machine, arr: Val, count: Val, op: string, dirty?: 'lock' | 'nolock') {
  const release = op === 'release_pages';
  arrayRelease(m, arr, count, op, release ? 'int' : 'unsigned long', (v) => {
    if (dirty) dirtyUnlessDirty(m, v, op, dirty === 'lock');
    releaseOne(m, v, 'put', op);
  }, { skipNull: release });
  m.pages.note(`${op}(${show(arr)}, ${show(count)}${dirty ? ', dirty' : ''})`);
}

function pageOp(name: string, f: (m: Machine, p: Page) => Val): Builtin {
  // Dirtying a page of unknown origin is recorded like releasing one; testing a flag is not.
  const dirties = /dirty/i.test(name) && !/^Page/.test(name);
  return (m, args) => {
    const p = m.page(args[0], name);
    if (p) return f(m, p);
    if (dirties) {
      m.unknownReleases.push(`dirty(${show(args[0])})`);
      return 0;
    }
    return m.opaque(name, args);
  };
}

/**
 * A page property the simulator has no value for: an opaque call as before, but these read the
 * struct page, so on NULL they oops as in the kernel (a gup that returned 0 leaves the slot NULL,
 * and nitro_enclaves checks it before counting it).
 */
const pageQuery = (name: string): Builtin => (m, args) => {
  m.page(args[0], name);
  return m.opaque(name, args);
};

// ---- builtins ------------------------------------------------------------------------------

const truthy = (m: Machine, v: Val) => m.truth(v, false);

function combine(name: string, f: (...xs: number[]) => number, skip = 0): Builtin {
  return (m, args) => {
    const xs = args.slice(skip);
    if (xs.every((x) => typeof x === 'number')) return f(...(xs as number[]));
    return symOf(`${name}(${xs.map(show).join(',')})`, ...xs);
  };
}

/** Sizes `struct_size(p, member, n)` computed: the flexible array member and its count. */
const flexibleSizes = new WeakMap<Sym, { member: string; count: Val }>();

/** An element count, if the value is one (a number or an opaque count, not an address). */
const elementCount = (v: Val | undefined): number | Sym | undefined => (v instanceof Ptr ? undefined : v);

/**
 * The element count of a size in bytes written as a product with a sizeof,
 * `array_size(sizeof(struct page *), n)` or `n * sizeof(*p)`: n. sizeof is not modelled (it reads
 * as 8), so the count cannot be had by dividing the size; without it a loop one past the end of
 * a vzalloc()'d page array reads a NULL slot instead of faulting.
 */
function countOfSize(m: Machine, e: Expr | undefined): number | Sym | undefined {
  if (e?.t === 'call' && e.name === 'array_size' && e.args.length === 2) return productCount(m, e.args[0], e.args[1]);
  if (e?.t === 'bin' && e.op === '*') return productCount(m, e.l, e.r);
  return undefined;
}

function productCount(m: Machine, a: Expr, b: Expr): number | Sym | undefined {
  if (a.t === 'sizeof' && b.t !== 'sizeof') return elementCount(m.eval(b));
  if (b.t === 'sizeof' && a.t !== 'sizeof') return elementCount(m.eval(a));
  return undefined;
}

function allocator(name: string): Builtin {
  const counted = /calloc|_array/.test(name);
  // The element count or size in bytes comes after the device or the old pointer, if any.
  const first = /^(devm_|krealloc|kvrealloc)/.test(name) ? 1 : 0;
  return (m, args, call) => {
    if (!call.texts.some((t) => /GFP_ATOMIC|GFP_NOWAIT/.test(t))) m.pages.sleep(name);
    // Allocations can fail: each is a decision, so its error path is a scenario.
    if (m.truth(m.atom(`${name}()#${m.count(name)} fails`), false)) return 0;
    const size = args[first];
    // kzalloc, vzalloc, the calloc family, __GFP_ZERO: a short pin leaves NULL slots (H5).
    const p = m.alloc(name, zeroingAllocation(name, call.texts), counted ? elementCount(size) : countOfSize(m, call.args[first]));
    const flexible = size instanceof Sym ? flexibleSizes.get(size) : undefined;
    if (flexible) {
      const member = p.obj.cell(flexible.member);
      member.array = true;
      member.length = elementCount(flexible.count);
    }
    return p;
  };
}

/** Everything in `o` reads as zero from now on, embedded structs and arrays of structs too. */
function zeroObject(o: Obj) {
  o.zeroed = true;
  bitmaps.delete(o);
  for (const [i] of o.slots()) o.setSlot(i, 0);
  for (const [k] of [...o.fields()]) o.setField(k, 0);
  for (const [, c] of o.fieldCells()) zeroObject(c);
  for (const [, e] of o.elements()) zeroObject(e);
}

/**
 * memset(p, 0, n): what a driver zeroes reads as NULL/0 afterwards (a page array cleared before a
 * pin that may be short, H5). sizeof is not modelled, so from the start of an object all of it
 * is cleared; from inside an array, n bytes of pointers. Anything else stays an opaque call.
 */
const memset: Builtin = (m, a) => {
  const [p, c, n] = a;
  if (c !== 0 || !(p instanceof Ptr) || p.obj instanceof Page || p.obj.freed) return m.opaque('memset', a);
  if (p.off === 0) {
    zeroObject(p.obj);
    return p;
  }
  const end = typeof n === 'number' ? p.off + Math.ceil(n / 8) : typeof p.obj.length === 'number' ? p.obj.length : undefined;
  if (end === undefined) return m.opaque('memset', a);
  for (let i = p.off; i < end; i++) {
    m.tick();
    p.obj.setSlot(i, 0);
  }
  return p;
};

const free: Builtin = (m, args, call) => {
  const v = call.name === 'kmem_cache_free' ? args[1] : args[0];
  if (v instanceof Ptr) {
    if (v.obj.freed) throw new Fault(`double free of ${v.obj.label}`);
    v.obj.freed = true;
  }
  m.record(call.name!, [v]);
  return 0;
};

const event = (result: Val = 0): Builtin => (m, args, call) => {
  m.record(call.name!, args);
  return result;
};

const sleeping = (result: Val = 0): Builtin => (m, args, call) => {
  m.pages.sleep(call.name!);
  m.record(call.name!, args);
  return result;
};

const ignore: Builtin = () => 0;

/** The entries of the list at `head`. */
function listOf(head: Val): Obj[] {
  return (objectOf(head, 'list head').list ??= []);
}

function containerOf(v: Val, member?: string, m?: Machine, type?: string): Val {
  // An embedded member's parent is its struct (a FieldCell's is its owner); a member path
  // (`dwork.work`, the work item inside a delayed work) climbs one level per field.
  const levels = member ? member.split(/\.|->/).length : 1;
  let at = v;
  for (let i = 0; i < levels && at instanceof Ptr && !at.off && at.obj.parent; i++) at = new Ptr(at.obj.parent, 0);
  if (at !== v) return at;
  // A callback's argument nothing here contains (the notifier an MMU-notifier callback is
  // handed, a work item): the member of the session's object of that type, which an earlier
  // entry point registered.
  const owner = m && type && v instanceof Ptr && !v.off && v.obj.label.startsWith('arg(') ? m.sessionObject(`${type} *`) : undefined;
  if (owner instanceof Ptr && v instanceof Ptr && owner.obj !== v.obj) return owner;
  return v instanceof Sym || typeof v === 'number' ? symOf(`container_of(${show(v)})`, v) : v;
}

/**
 * min()/max() of two opaque values: which one wins is a decision (an MMU-notifier range that
 * starts before the region or inside it), so the result is one of them, not a third value.
 */
function extreme(name: 'min' | 'max', skip = 0): Builtin {
  const numeric = combine(name, name === 'min' ? Math.min : Math.max, skip);
  return (m, args, call) => {
    const [a, b] = args.slice(skip);
    if (args.length - skip !== 2 || !(a instanceof Sym) || !(b instanceof Sym)) return numeric(m, args, call);
    const bWins = m.truth(m.binary(name === 'max' ? '<' : '>', a, b), false);
    return bWins ? b : a;
  };
}

/**
 * Setting up or queueing a deferred callback (work item, timer): a later step of the session
 * taking its type (the work function or timer callback, an entry point of its own) is handed
 * this one, so that its container_of() finds the driver's struct the acquiring entry filled
 * (ioctl → workqueue function). Otherwise the call is opaque as before.
 */
const deferred = (at: number, type: string, inner?: string): Builtin => (m, args, call) => {
  let v = args[at];
  // A delayed work's callback gets `&dwork->work`.
  if (inner && v instanceof Ptr && !v.off) v = new Ptr(v.obj.cell(inner), 0);
  m.remember(type, v);
  return m.opaque(call.name!, args);
};

const listAdd = (tail: boolean): Builtin => (m, args) => {
  const node = objectOf(args[0], 'list node');
  const list = listOf(args[1]);
  const entry = node instanceof FieldCell ? node.owner : node;
  if (tail) list.push(entry);
  else list.unshift(entry);
  node.onList = objectOf(args[1], 'list head');
  return 0;
};

const listDel: Builtin = (m, args) => {
  const node = objectOf(args[0], 'list node');
  const head = node.onList;
  if (head?.list) {
    const entry = node instanceof FieldCell ? node.owner : node;
    const i = head.list.indexOf(entry);
    if (i >= 0) head.list.splice(i, 1);
  }
  node.onList = undefined;
  return 0;
};

/** The page whose kernel address `v` is, if it is one. */
function addressedPage(v: Val): Ptr | undefined {
  return v instanceof Ptr && v.obj instanceof PageAddress ? new Ptr(v.obj.page, 0) : undefined;
}

/**
 * page_address() and the kmaps: the page's address. Not an event to compare: a release through
 * the address (`free_page((unsigned long)page_address(p))`) and its unpin of `p` are the same.
 */
function pageAddress(name: string): Builtin {
  return (m, args) => {
    const p = m.page(args[0], name);
    if (!p) return m.opaque(name, args);
    m.pages.touch(p, name);
    return new Ptr(new PageAddress(p), 0);
  };
}

/**
 * virt_to_page() of a page's address is that page; of an address the run cannot see into (a
 * parameter: what an earlier entry point returned, a field nobody here wrote), a page of unknown
 * origin — it may be a user page the group pinned, so it is released alike by both (releaseOne);
 * of anything else, a kernel page.
 */
function pageOfAddress(name: string): Builtin {
  const source = pageSource(name);
  return (m, args, call) => addressedPage(args[0]) ?? (args[0] instanceof Sym ? symOf(`${name}(${show(args[0])})`, args[0]) : source(m, args, call));
}

/** Sources that can fail, and how: an ERR_PTR() for the page-cache readers, NULL for the rest. */
const INFALLIBLE_SOURCES = /^(virt_to_page|vmalloc_to_page|kmap_to_page)$/;
const ERR_PTR_SOURCES = /^(read_mapping_page|read_cache_page|read_cache_page_gfp|shmem_read_mapping_page|shmem_read_mapping_page_gfp|drm_gem_get_pages)$/;
const EIO = -5;

function pageSource(name: string): Builtin {
  const fallible = !INFALLIBLE_SOURCES.test(name);
  const failure = ERR_PTR_SOURCES.test(name) ? EIO : 0;
  const mapping = /cache|mapping|shmem|find_/.test(name) ? 'file' : 'anon';
  return (m) => {
    if (fallible && m.truth(m.atom(`${name}()#${m.count(name)} fails`), false)) return failure;
    const page = m.pages.newFolio(0, mapping).pages[0];
    m.pages.own(page);
    m.pages.note(`${name}() = ${page.label} (one ordinary reference, not from GUP)`);
    return new Ptr(page, 0);
  };
}

function outparamSource(name: string, index: number): Builtin {
  // The iov_iter_get_pages_alloc variants allocate the array themselves when passed its
  // address. (alloc_pages_bulk_array matches too, though it fills the caller's array.)
  const allocates = name.includes('alloc');
  // The iov_iter ones return bytes, the others pages.
  const result = name.startsWith('iov_iter') ? 2 * 4096 : 2;
  return (m, args) => {
    m.record(name, args);
    let target = args[index];
    if (allocates) {
      const array = m.alloc(name, false);
      const out = baseOf(target, name);
      m.store({ obj: out.obj, slot: out.off }, array);
      target = array;
    }
    const base = baseOf(target, name);
    for (let i = 0; i < 2; i++) {
      const page = m.pages.newFolio(0, 'file').pages[0];
      m.pages.own(page);
      m.store({ obj: base.obj, slot: base.off + i }, new Ptr(page, 0));
    }
    return result;
  };
}


// ---- bitmaps and cpumasks ------------------------------------------------------------------

/**
 * What a bitmap (an array of unsigned long that the bit helpers of include/linux/bitops.h and
 * bitmap.h work on) holds: the bits the code set, each a number or an opaque bit number, in the
 * order set; and whether other bits may be set too — memory nobody here cleared (a local array,
 * a field, what copy_from_user() filled). A zeroed object (kzalloc, `= {0}`, memset, bitmap_zero)
 * holds none until set.
 */
interface Bits {
  set: Val[];
  /** Other bits may be set: the scenario decides whether one is. */
  unknown: boolean;
  /** Cleared since, so not among the unknown ones either. */
  cleared: Val[];
}

const bitmaps = new WeakMap<Obj, Bits>();

/** A cpumask is a bitmap of nr_cpu_ids bits (cpumask_bits()). */
const NR_CPUS = 'nr_cpu_ids';

function bitsOf(m: Machine, addr: Val, op: string): Bits {
  const { obj, off } = baseOf(addr, op);
  let bits = bitmaps.get(obj);
  if (!bits) bitmaps.set(obj, (bits = { set: [], unknown: !obj.zeroed, cleared: [] }));
  // A bitmap from one of its words on: which bits those are is not worked out.
  if (off) {
    m.unsupported.add(`${op}() on a bitmap at an offset`);
    bits.unknown = true;
  }
  return bits;
}

const sameKey = (a: Val, b: Val) => a === b || (a instanceof Sym && b instanceof Sym && a.key === b.key);

/**
 * Is bit `a` bit `b`? Two numbers or one opaque value are settled; two different opaque bit
 * numbers may or may not be equal: the scenario decides (not by default).
 */
function sameBit(m: Machine, a: Val, b: Val): boolean {
  if (sameKey(a, b)) return true;
  if (typeof a === 'number' && typeof b === 'number') return false;
  return m.truth(compared('==', a, b), false);
}

function setBit(m: Machine, nr: Val, addr: Val, op: string) {
  const bits = bitsOf(m, addr, op);
  if (!bits.set.some((b) => sameKey(b, nr))) bits.set.push(nr);
  bits.cleared = bits.cleared.filter((b) => !sameKey(b, nr));
}

function clearBit(m: Machine, nr: Val, addr: Val, op: string) {
  const bits = bitsOf(m, addr, op);
  bits.set = bits.set.filter((b) => !sameBit(m, b, nr));
  if (bits.unknown && !bits.cleared.some((b) => sameKey(b, nr))) bits.cleared.push(nr);
}

function testBit(m: Machine, nr: Val, addr: Val, op: string): number {
  const bits = bitsOf(m, addr, op);
  if (bits.set.some((b) => sameBit(m, b, nr))) return 1;
  if (!bits.unknown || bits.cleared.some((b) => sameKey(b, nr))) return 0;
  // A bit of memory nobody here wrote: the scenario decides (clear by default).
  return m.truth(symOf(`test_bit(${show(nr)},${baseOf(addr, op).obj.label})`, nr), false) ? 1 : 0;
}

/** bitmap_zero(), cpumask_clear(): no bit set, known. */
function zeroBits(m: Machine, addr: Val, op: string) {
  const bits = bitsOf(m, addr, op);
  bits.set = [];
  bits.cleared = [];
  bits.unknown = false;
}

/** The content is now whatever the caller's data was (copy_from_user() into a bitmap). */
function unknownBits(addr: Val) {
  if (!(addr instanceof Ptr || addr instanceof Sym)) return;
  const { obj } = baseOf(addr, 'bitmap');
  bitmaps.set(obj, { set: [], unknown: true, cleared: [] });
}

/**
 * The set bits below `size`, as for_each_set_bit() finds them: the known ones (numbers in
 * ascending order, then opaque ones in the order set; an opaque bit number is taken to be in
 * range, as the code that set it checked), then, if other bits may be set, as many opaque ones as
 * the scenario says there are — none by default, one when it flips that (as countOf() walks an
 * unknown length).
 */
function setBits(m: Machine, addr: Val, size: Val, op: string): Val[] {
  const bits = bitsOf(m, addr, op);
  const numbers = bits.set.filter((b): b is number => typeof b === 'number' && (typeof size !== 'number' || b < size)).sort((a, b) => a - b);
  const out: Val[] = [...numbers, ...bits.set.filter((b) => typeof b !== 'number')];
  if (bits.unknown) {
    const label = baseOf(addr, op).obj.label;
    const more = Math.min(countOf(m, m.atom(`set bits of ${label}`)), OPAQUE_COUNT_LIMIT);
    for (let i = 0; i < more; i++) out.push(m.atom(`set bit #${i} of ${label}`));
  }
  return out;
}

/** The first set bit, or `size` if none (find_first_bit(), cpumask_first()). */
const firstBit = (m: Machine, addr: Val, size: Val, op: string): Val => setBits(m, addr, size, op)[0] ?? size;

/** test_and_set_bit() & co.: the old value. */
const testAnd = (change: typeof setBit): Builtin => (m, a, call) => {
  const old = testBit(m, a[0], a[1], call.name!);
  change(m, a[0], a[1], call.name!);
  return old;
};

/** zalloc_cpumask_var(&mask, gfp) / alloc_cpumask_var(): a mask that can fail to be allocated. */
const cpumaskAlloc = (zeroed: boolean): Builtin => (m, a, call) => {
  if (m.truth(m.atom(`${call.name}()#${m.count(call.name!)} fails`), false)) return 0;
  const mask = m.alloc(call.name!, zeroed);
  const out = baseOf(a[0], call.name!);
  m.store({ obj: out.obj, slot: out.off }, mask);
  return 1;
};

const BUILTINS: Record<string, Builtin> = {
  // releases
  put_page: putOne('put_page'),
  put_user_page: putOne('put_user_page'),
  release_pages: (m, a) => (putPages(m, a[0], a[1], 'release_pages'), 0),
  put_user_pages: (m, a) => (putPages(m, a[0], a[1], 'put_user_pages'), 0),
  put_user_pages_dirty: (m, a) => (putPages(m, a[0], a[1], 'put_user_pages_dirty', 'nolock'), 0),
  put_user_pages_dirty_lock: (m, a) => (putPages(m, a[0], a[1], 'put_user_pages_dirty_lock', a.length < 3 || truthy(m, a[2]) ? 'lock' : undefined), 0),
  unpin_user_page: (m, a) => {
    m.usedPins = true;
    releaseOne(m, a[0], 'unpin', 'unpin_user_page');
    return 0;
  },
  unpin_user_pages: (m, a) => (unpinPages(m, a[0], a[1], false, 'unpin_user_pages'), 0),
  unpin_user_pages_dirty_lock: (m, a) => (unpinPages(m, a[0], a[1], truthy(m, a[2]), 'unpin_user_pages_dirty_lock'), 0),
  unpin_user_page_range_dirty_lock: (m, a) => {
    m.usedPins = true;
    const n = typeof a[1] === 'number' ? a[1] : undefined;
    // `unsigned long npages`: nothing to walk at 0 (the page is never looked at), a huge walk below.
    if (n === 0) return 0;
    if (n !== undefined && n < 0) throw new Fault(`unpin_user_page_range_dirty_lock() with the negative count ${n}: a huge unsigned loop`);
    const first = m.page(a[0], 'unpin_user_page_range_dirty_lock');
    const dirty = truthy(m, a[2]);
    if (!first || n === undefined) {
      m.unknownReleases.push(`unpin_user_page_range_dirty_lock(${show(a[0])}, ${show(a[1])})`);
      return 0;
    }
    if (dirty) m.pages.sleep('unpin_user_page_range_dirty_lock');
    for (let i = 0; i < n; i++) {
      const p = m.nthPage(first, i);
      if (dirty) dirtyUnlessDirty(m, new Ptr(p, 0), 'unpin_user_page_range_dirty_lock', true);
      m.pages.unpin(p, 'unpin_user_page_range_dirty_lock');
    }
    return 0;
  },
  // The other ways one page's reference is dropped: each is put_page() for a GUP page.
  page_cache_release: putOne('page_cache_release'),
  __free_page: putOne('__free_page'),
  __free_pages: (m, a, call) => (a[1] === 0 ? putOne('__free_pages')(m, a, call) : m.opaque('__free_pages', a)),
  folio_put: putOne('folio_put'),
  free_page: (m, a, call) => {
    const page = addressedPage(a[0]);
    return page ? (releaseOne(m, page, 'put', 'free_page'), 0) : free(m, a, call);
  },
  page_folio: pageOp('page_folio', (m, p) => new Ptr(p.folio.pages[0], 0)),
  page_address: pageAddress('page_address'),
  kmap: pageAddress('kmap'),
  kmap_local_page: pageAddress('kmap_local_page'),
  kmap_atomic: pageAddress('kmap_atomic'),
  get_page: pageOp('get_page', (m, p) => (m.pages.extraRef(p), 0)),
  try_get_page: pageOp('try_get_page', (m, p) => (m.pages.extraRef(p), 1)),
  // dirtying and the page lock
  set_page_dirty: pageOp('set_page_dirty', (m, p) => (m.pages.dirty(p, 'mapping', 'set_page_dirty'), 1)),
  set_page_dirty_lock: pageOp('set_page_dirty_lock', (m, p) => {
    m.pages.lock(p, 'set_page_dirty_lock');
    m.pages.dirty(p, 'mapping', 'set_page_dirty_lock');
    m.pages.unlock(p);
    return 1;
  }),
  SetPageDirty: pageOp('SetPageDirty', (m, p) => (m.pages.dirty(p, 'flag', 'SetPageDirty'), 0)),
  PageDirty: pageOp('PageDirty', (m, p) => (p.folio.dirty ? 1 : 0)),
  lock_page: pageOp('lock_page', (m, p) => (m.pages.lock(p, 'lock_page'), 0)),
  unlock_page: pageOp('unlock_page', (m, p) => (m.pages.unlock(p), 0)),
  trylock_page: pageOp('trylock_page', (m, p) => (p.folio.locked ? 0 : ((p.folio.locked = true), 1))),
  page_maybe_dma_pinned: pageOp('page_maybe_dma_pinned', (m, p) => (m.pages.maybeDmaPinned(p.folio) ? 1 : 0)),
  // page identity
  page_to_pfn: pageOp('page_to_pfn', (m, p) => p.pfn),
  pfn_to_page: (m, a) => {
    const p = typeof a[0] === 'number' ? m.pages.pageAtPfn(a[0]) : undefined;
    return p ? new Ptr(p, 0) : symOf(`pfn_to_page(${show(a[0])})`, a[0]);
  },
  nth_page: (m, a) => {
    const p = m.page(a[0], 'nth_page');
    return p && typeof a[1] === 'number' ? new Ptr(m.nthPage(p, a[1]), 0) : symOf(`nth_page(${show(a[0])},${show(a[1])})`, a[0], a[1]);
  },
  compound_head: pageOp('compound_head', (m, p) => new Ptr(p.folio.pages[0], 0)),
  pfn_valid: (m, a) => (typeof a[0] === 'number' && m.pages.pageAtPfn(a[0]) ? 1 : m.truth(symOf(`pfn_valid(${show(a[0])})`, a[0]), false) ? 1 : 0),
  PageReserved: pageOp('PageReserved', () => 0),
  is_zero_pfn: (m, a) => (a[0] === 0 ? 1 : typeof a[0] === 'number' ? 0 : symOf(`is_zero_pfn(${show(a[0])})`, a[0])),
  // scatterlists
  sg_alloc_table: (m, a) => (newSgTable(m, a[0], a[1], 'sg_alloc_table'), 0),
  sg_alloc_table_from_pages: (m, a) => sgFromPages(m, a),
  __sg_alloc_table_from_pages: (m, a) => (sgFromPages(m, a), objectOf(a[0], 'sg_table').field('sgl')!),
  sg_alloc_table_from_pages_segment: (m, a) => sgFromPages(m, a),
  sg_free_table: (m, a) => {
    const sgl = objectOf(a[0], 'sg_table').field('sgl');
    if (sgl instanceof Ptr) sgl.obj.freed = true;
    m.record('sg_free_table', [a[0]]);
    return 0;
  },
  sg_init_table: ignore,
  sg_set_page: (m, a) => {
    const e = objectOf(a[0], 'scatterlist');
    e.setField('page', a[1]);
    e.setField('length', a[2]);
    e.setField('offset', a[3]);
    return 0;
  },
  sg_page: (m, a) => m.load({ obj: objectOf(a[0], 'scatterlist'), field: 'page' }),
  sg_next: (m, a) => (a[0] instanceof Ptr ? new Ptr(a[0].obj, a[0].off + 1) : symOf(`sg_next(${show(a[0])})`, a[0])),
  sg_page_iter_page: (m, a) => m.load({ obj: objectOf(a[0], 'sg_page_iter'), field: '__page' }),
  // lists
  INIT_LIST_HEAD: (m, a) => ((objectOf(a[0], 'list head').list = []), 0),
  list_add: listAdd(false),
  list_add_tail: listAdd(true),
  list_del: listDel,
  list_del_init: listDel,
  list_empty: (m, a) => (listOf(a[0]).length ? 0 : 1),
  list_first_entry: (m, a) => {
    const first = listOf(a[0])[0];
    return first ? new Ptr(first, 0) : symOf(`list_first_entry(${show(a[0])})`, a[0]);
  },
  // The parser reads the type argument as one identifier (`struct_odx_umem`).
  container_of: (m, a, call) => containerOf(a[0], call.texts[2], m, call.texts[1]?.trim().replace(/^(struct|union)_+/, '$1 ')),
  list_entry: (m, a, call) => containerOf(a[0], call.texts[2]),
  from_timer: (m, a, call) => containerOf(a[1], call.texts[2]),
  to_delayed_work: (m, a) => containerOf(a[0]),
  // deferred callbacks
  INIT_WORK: deferred(0, 'struct work_struct *'),
  schedule_work: deferred(0, 'struct work_struct *'),
  queue_work: deferred(1, 'struct work_struct *'),
  queue_work_on: deferred(2, 'struct work_struct *'),
  INIT_DELAYED_WORK: deferred(0, 'struct work_struct *', 'work'),
  schedule_delayed_work: deferred(0, 'struct work_struct *', 'work'),
  queue_delayed_work: deferred(1, 'struct work_struct *', 'work'),
  mod_delayed_work: deferred(1, 'struct work_struct *', 'work'),
  timer_setup: deferred(0, 'struct timer_list *'),
  mod_timer: deferred(0, 'struct timer_list *'),
  // bitmaps (include/linux/bitops.h, bitmap.h, find.h) and cpumasks (cpumask.h) over them
  set_bit: (m, a) => (setBit(m, a[0], a[1], 'set_bit'), 0),
  __set_bit: (m, a) => (setBit(m, a[0], a[1], '__set_bit'), 0),
  clear_bit: (m, a) => (clearBit(m, a[0], a[1], 'clear_bit'), 0),
  __clear_bit: (m, a) => (clearBit(m, a[0], a[1], '__clear_bit'), 0),
  test_bit: (m, a) => testBit(m, a[0], a[1], 'test_bit'),
  test_and_set_bit: testAnd(setBit),
  __test_and_set_bit: testAnd(setBit),
  test_and_clear_bit: testAnd(clearBit),
  __test_and_clear_bit: testAnd(clearBit),
  bitmap_zero: (m, a) => (zeroBits(m, a[0], 'bitmap_zero'), 0),
  bitmap_empty: (m, a) => (setBits(m, a[0], a[1], 'bitmap_empty').length ? 0 : 1),
  find_first_bit: (m, a) => firstBit(m, a[0], a[1], 'find_first_bit'),
  cpumask_set_cpu: (m, a) => (setBit(m, a[0], a[1], 'cpumask_set_cpu'), 0),
  __cpumask_set_cpu: (m, a) => (setBit(m, a[0], a[1], '__cpumask_set_cpu'), 0),
  cpumask_clear_cpu: (m, a) => (clearBit(m, a[0], a[1], 'cpumask_clear_cpu'), 0),
  __cpumask_clear_cpu: (m, a) => (clearBit(m, a[0], a[1], '__cpumask_clear_cpu'), 0),
  cpumask_test_cpu: (m, a) => testBit(m, a[0], a[1], 'cpumask_test_cpu'),
  cpumask_clear: (m, a) => (zeroBits(m, a[0], 'cpumask_clear'), 0),
  cpumask_empty: (m, a) => (setBits(m, a[0], m.atom(NR_CPUS), 'cpumask_empty').length ? 0 : 1),
  cpumask_first: (m, a) => firstBit(m, a[0], m.atom(NR_CPUS), 'cpumask_first'),
  cpumask_any: (m, a) => firstBit(m, a[0], m.atom(NR_CPUS), 'cpumask_any'),
  zalloc_cpumask_var: cpumaskAlloc(true),
  alloc_cpumask_var: cpumaskAlloc(false),
  // A copy from user space into a bitmap: any bits may be set (an event all the same).
  copy_from_user: (m, a) => {
    unknownBits(a[0]);
    return m.opaque('copy_from_user', a);
  },
  // allocation
  kfree: free, kvfree: free, vfree: free, free_pages: free, kmem_cache_free: free,
  devm_kfree: free, kfree_sensitive: free,
  memset,
  // counting macros
  min: extreme('min'),
  max: extreme('max'),
  min_t: combine('min', Math.min, 1),
  max_t: combine('max', Math.max, 1),
  clamp: combine('clamp', (x, lo, hi) => Math.min(Math.max(x, lo), hi)),
  clamp_t: combine('clamp', (x, lo, hi) => Math.min(Math.max(x, lo), hi), 1),
  clamp_val: combine('clamp', (x, lo, hi) => Math.min(Math.max(x, lo), hi)),
  DIV_ROUND_UP: combine('DIV_ROUND_UP', (a, b) => Math.ceil(a / b)),
  ALIGN: combine('ALIGN', (a, b) => Math.ceil(a / b) * b),
  round_up: combine('round_up', (a, b) => Math.ceil(a / b) * b),
  round_down: combine('round_down', (a, b) => Math.floor(a / b) * b),
  PAGE_ALIGN: combine('PAGE_ALIGN', (a) => Math.ceil(a / 4096) * 4096),
  PFN_DOWN: combine('PFN_DOWN', (a) => Math.floor(a / 4096)),
  PFN_UP: combine('PFN_UP', (a) => Math.ceil(a / 4096)),
  offset_in_page: combine('offset_in_page', (a) => ((a % 4096) + 4096) % 4096),
  ARRAY_SIZE: (m, a) => (a[0] instanceof Ptr && typeof a[0].obj.length === 'number' ? a[0].obj.length : symOf(`ARRAY_SIZE(${show(a[0])})`, a[0])),
  // A size in bytes nobody computes; what it sizes is what an allocation of it is for.
  struct_size: (m, a, call) => {
    const member = call.texts[1].trim();
    const size = symOf(`struct_size(${member},${show(a[2])})`, a[2]);
    flexibleSizes.set(size, { member, count: a[2] });
    return size;
  },
  ERR_PTR: (m, a) => a[0],
  PTR_ERR: (m, a) => a[0],
  ERR_CAST: (m, a) => a[0],
  IS_ERR: (m, a) => (a[0] instanceof Sym ? symOf(`IS_ERR(${a[0].key})`, a[0]) : m.isErrorValue(a[0]) ? 1 : 0),
  IS_ERR_OR_NULL: (m, a) => (a[0] instanceof Sym ? symOf(`IS_ERR_OR_NULL(${a[0].key})`, a[0]) : a[0] === 0 || m.isErrorValue(a[0]) ? 1 : 0),
  PTR_ERR_OR_ZERO: (m, a) => (m.isErrorValue(a[0]) ? a[0] : a[0] instanceof Sym ? symOf(`PTR_ERR_OR_ZERO(${a[0].key})`, a[0]) : 0),
  likely: (m, a) => a[0],
  unlikely: (m, a) => a[0],
  READ_ONCE: (m, a) => a[0],
  WRITE_ONCE: (m, a, call) => (m.store(m.loc(call.args[0], 'write'), a[1]), 0),
  WARN_ON: (m, a) => (truthy(m, a[0]) ? 1 : 0),
  WARN_ON_ONCE: (m, a) => (truthy(m, a[0]) ? 1 : 0),
  WARN: (m, a) => (truthy(m, a[0]) ? 1 : 0),
  WARN_ONCE: (m, a) => (truthy(m, a[0]) ? 1 : 0),
  BUG_ON: (m, a) => {
    if (truthy(m, a[0])) throw new Fault('BUG_ON() fired');
    return 0;
  },
  // locks and sleeping
  mutex_lock: sleeping(), mutex_lock_interruptible: sleeping(), mutex_lock_killable: sleeping(),
  down_read: sleeping(), down_write: sleeping(), mmap_read_lock: sleeping(), mmap_write_lock: sleeping(),
  mmap_read_lock_killable: sleeping(), might_sleep: sleeping(), cond_resched: sleeping(), msleep: sleeping(),
  mutex_unlock: event(), up_read: event(), up_write: event(), mmap_read_unlock: event(), mmap_write_unlock: event(),
  mutex_trylock: event(1), mutex_init: event(), mutex_destroy: event(), spin_lock_init: event(),
  lockdep_assert_held: ignore, might_fault: ignore, barrier: ignore, smp_mb: ignore, smp_wmb: ignore, smp_rmb: ignore,
};

/** Fill the sg_table at `table` with `n` zeroed entries; returns the entries. */
function newSgTable(m: Machine, table: Val, n: Val, op: string): Ptr {
  m.pages.sleep(op);
  const t = objectOf(table, 'sg_table');
  const sgl = m.alloc('sgl', true, typeof n === 'number' ? n : undefined);
  t.setField('sgl', sgl);
  t.setField('nents', n);
  t.setField('orig_nents', n);
  return sgl;
}

function sgFromPages(m: Machine, a: Val[]): Val {
  const n = a[2];
  const sgl = newSgTable(m, a[0], n, 'sg_alloc_table_from_pages');
  if (typeof n === 'number') {
    const src = baseOf(a[1], 'pages');
    for (let i = 0; i < n; i++) {
      const e = element(sgl.obj, i);
      e.setField('page', m.load({ obj: src.obj, slot: src.off + i }));
      e.setField('length', 4096);
    }
  }
  return 0;
}

for (const name of ACQUIRE_NAMES) BUILTINS[name] = gup(name);
for (const name of ['PageHuge', 'PageCompound', 'PageTransHuge', 'PageHead', 'PageTail', 'PageAnon', 'page_size', 'page_to_nid', 'compound_order'])
  BUILTINS[name] = pageQuery(name);
for (const name of ARRAY_ALLOCATORS) BUILTINS[name] ??= allocator(name);
for (const name of ['virt_to_page', 'kmap_to_page']) BUILTINS[name] = pageOfAddress(name);
for (const name of RVALUE_SOURCES) BUILTINS[name] ??= pageSource(name);
for (const [name, index] of Object.entries(OUTPARAM_SOURCES)) BUILTINS[name] ??= outparamSource(name, index);
for (const name of ['printk', 'pr_err', 'pr_warn', 'pr_info', 'pr_debug', 'pr_notice', 'pr_err_ratelimited', 'pr_warn_ratelimited', 'pr_warn_once', 'dev_err', 'dev_warn', 'dev_info', 'dev_dbg', 'dev_notice', 'dev_err_ratelimited', 'dev_warn_ratelimited', 'dev_dbg_ratelimited', 'netdev_err', 'netdev_warn', 'ibdev_err', 'ibdev_warn', 'ibdev_dbg'])
  BUILTINS[name] = ignore;

/** Locks that make the context atomic, recognised by name like the site analysis does. */
const enterAtomic: Builtin = (m, args, call) => {
  m.pages.enterAtomic();
  m.record(call.name!, args);
  return call.name!.includes('trylock') ? 1 : 0;
};

const leaveAtomic: Builtin = (m, args, call) => {
  m.pages.leaveAtomic();
  m.record(call.name!, args);
  return 0;
};

/** The model of `name`, if the simulator has one. */
const resolved = new Map<string, Builtin | undefined>();

export function builtin(name: string): Builtin | undefined {
  if (resolved.has(name)) return resolved.get(name);
  const b = Object.hasOwn(BUILTINS, name) ? BUILTINS[name] : ATOMIC_ENTER_RE.test(name) ? enterAtomic : ATOMIC_LEAVE_RE.test(name) ? leaveAtomic : undefined;
  resolved.set(name, b);
  return b;
}

// ---- iterator macros -----------------------------------------------------------------------

function loop(count: number, each: (i: number) => void, body: LoopStep): unknown {
  for (let i = 0; i < count; i++) {
    each(i);
    const r = body();
    if (r === 'break') return undefined;
    if (r !== 'next') return r.stop;
  }
  return undefined;
}

function countOf(m: Machine, v: Val): number {
  if (typeof v === 'number') return Math.max(0, v);
  // An unknown length: the scenario decides whether there is anything to walk.
  return m.truth(compared('>', v, 0), false) ? 1 : 0;
}

const forEachSg: Iterator = (m, args, body) => walkSg(m, m.eval(args[0]), countOf(m, m.eval(args[2])), args[1], args[3], body);

function walkSg(m: Machine, start: Val, n: number, cursor: Expr, index: Expr, body: LoopStep): unknown {
  const sg = m.loc(cursor, 'write');
  const idx = m.loc(index, 'write');
  const base = baseOf(start, 'scatterlist');
  const r = loop(n, (i) => {
    m.store(sg, new Ptr(base.obj, base.off + i));
    m.store(idx, i);
  }, body);
  if (r === undefined) {
    m.store(sg, new Ptr(base.obj, base.off + n));
    m.store(idx, n);
  }
  return r;
}

function sgPages(m: Machine, sglV: Val, nents: number, iterLoc: Val, body: LoopStep): unknown {
  const base = baseOf(sglV, 'scatterlist');
  const iter = objectOf(iterLoc, 'sg_page_iter');
  for (let i = 0; i < nents; i++) {
    const e = element(base.obj, base.off + i);
    const page = m.load({ obj: e, field: 'page' });
    const len = m.load({ obj: e, field: 'length' });
    const pages = typeof len === 'number' ? Math.max(1, Math.ceil(len / 4096)) : 1;
    for (let j = 0; j < pages; j++) {
      const p = m.page(page, 'for_each_sg_page');
      iter.setField('__page', j === 0 || !p ? page : new Ptr(m.nthPage(p, j), 0));
      const r = body();
      if (r === 'break') return undefined;
      if (r !== 'next') return r.stop;
    }
  }
  return undefined;
}

/**
 * A lock-less list walked from its first node (what llist_del_all() returned): the node is
 * opaque, so the scenario decides whether the list holds an entry, as for a walk of unknown
 * length; one entry stands for any number.
 */
function llistWalk(m: Machine, posArg: Expr, nextArg: Expr | undefined, first: Val, body: LoopStep): unknown {
  const pos = m.loc(posArg, 'write');
  const next = nextArg && m.loc(nextArg, 'write');
  const entries = first !== 0 && m.truth(first, false) ? 1 : 0;
  return loop(entries, () => {
    m.store(pos, containerOf(first));
    if (next) m.store(next, 0);
  }, body);
}

/**
 * Walk `values` into the cursor at `cursor`; when the walk runs to its end (no break, no
 * return), the cursor is left at `end`, as the kernel's loop leaves it.
 */
function walkValues(m: Machine, cursor: Expr, values: Val[], end: Val | undefined, body: LoopStep): unknown {
  const at = m.loc(cursor, 'write');
  for (const v of values) {
    m.store(at, v);
    const r = body();
    if (r === 'break') return undefined;
    if (r !== 'next') return r.stop;
  }
  if (end !== undefined) m.store(at, end);
  return undefined;
}

/** for_each_cpu(cpu, mask): for_each_set_bit() over the mask's nr_cpu_ids bits. */
const forEachCpu: Iterator = (m, args, body) => {
  const size = m.atom(NR_CPUS);
  return walkValues(m, args[0], setBits(m, m.eval(args[1]), size, 'for_each_cpu'), size, body);
};

/**
 * for_each_possible_cpu() & co. walk a mask that always holds the boot CPU: one CPU, opaque,
 * stands for any number of them.
 */
const forEachBootCpu: Iterator = (m, args, body) => walkValues(m, args[0], [m.atom('boot cpu')], m.atom(NR_CPUS), body);

/** list_for_each_entry(pos, head, member) and its RCU/SRCU forms (the same walk for one thread). */
const forEachListEntry: Iterator = (m, args, body) => {
  const items = [...listOf(m.eval(args[1]))];
  const pos = m.loc(args[0], 'write');
  return loop(items.length, (i) => m.store(pos, new Ptr(items[i], 0)), body);
};

export const ITERATORS: Record<string, Iterator> = {
  for_each_sg: forEachSg,
  for_each_sgtable_sg: (m, args, body) => {
    const t = objectOf(m.eval(args[0]), 'sg_table');
    return walkSg(m, m.load({ obj: t, field: 'sgl' }), countOf(m, m.load({ obj: t, field: 'nents' })), args[1], args[2], body);
  },
  // for_each_sg((sgt)->sgl, sg, (sgt)->nents, i): the entries dma_map_sgtable() mapped, which
  // the model leaves as many as the table has.
  for_each_sgtable_dma_sg: (m, args, body) => {
    const t = objectOf(m.eval(args[0]), 'sg_table');
    return walkSg(m, m.load({ obj: t, field: 'sgl' }), countOf(m, m.load({ obj: t, field: 'nents' })), args[1], args[2], body);
  },
  for_each_sg_page: (m, args, body) => sgPages(m, m.eval(args[0]), countOf(m, m.eval(args[2])), m.eval(args[1]), body),
  for_each_sgtable_page: (m, args, body) => {
    const t = objectOf(m.eval(args[0]), 'sg_table');
    return sgPages(m, m.load({ obj: t, field: 'sgl' }), countOf(m, m.load({ obj: t, field: 'orig_nents' })), m.eval(args[1]), body);
  },
  list_for_each_entry: forEachListEntry,
  list_for_each_entry_rcu: forEachListEntry,
  list_for_each_entry_srcu: forEachListEntry,
  llist_for_each_entry: (m, args, body) => llistWalk(m, args[0], undefined, m.eval(args[1]), body),
  llist_for_each_entry_safe: (m, args, body) => llistWalk(m, args[0], args[1], m.eval(args[2]), body),
  list_for_each_entry_safe: (m, args, body) => {
    const items = [...listOf(m.eval(args[2]))];
    const pos = m.loc(args[0], 'write');
    const next = m.loc(args[1], 'write');
    return loop(items.length, (i) => {
      m.store(pos, new Ptr(items[i], 0));
      m.store(next, items[i + 1] ? new Ptr(items[i + 1], 0) : 0);
    }, body);
  },
  // for ((bit) = 0; (bit) = find_next_bit(addr, size, bit), (bit) < (size); (bit)++): ends at size.
  for_each_set_bit: (m, args, body) => {
    const size = m.eval(args[2]);
    return walkValues(m, args[0], setBits(m, m.eval(args[1]), size, 'for_each_set_bit'), size, body);
  },
  for_each_cpu: forEachCpu,
  for_each_possible_cpu: forEachBootCpu,
  for_each_online_cpu: forEachBootCpu,
  for_each_present_cpu: forEachBootCpu,
  /**
   * xa_for_each_range(&kvm->vcpu_array, idx, vcpup, 0, online_vcpus - 1): as many vcpus as
   * kvm->online_vcpus says (the scenario decides whether there is one when it is opaque), each
   * an opaque object; the walk ends with vcpup NULL.
   */
  kvm_for_each_vcpu: (m, args, body) => {
    const kvm = objectOf(m.eval(args[2]), 'kvm');
    const n = Math.min(countOf(m, m.load({ obj: kvm, field: 'online_vcpus' })), OPAQUE_COUNT_LIMIT);
    const idx = m.loc(args[0], 'write');
    const vcpus = Array.from({ length: n }, (_, i) => m.atom(`vcpu #${i} of ${kvm.label}`));
    let i = 0;
    return walkValues(m, args[1], vcpus, 0, () => (m.store(idx, i++), body()));
  },
  /**
   * hash_for_each(slots->id_hash, bkt, memslot, …) if (WARN_ON_ONCE(!memslot->npages)) {} else:
   * a set of opaque memslots the scenario decides whether there is one of; an empty slot is
   * skipped; the walk ends with memslot NULL.
   */
  kvm_for_each_memslot: (m, args, body) => {
    const slots = objectOf(m.eval(args[2]), 'kvm_memslots');
    const n = Math.min(countOf(m, m.atom(`memslots of ${slots.label}`)), OPAQUE_COUNT_LIMIT);
    const memslots = Array.from({ length: n }, (_, i) => m.atom(`memslot #${i} of ${slots.label}`));
    const bkt = m.loc(args[1], 'write');
    let i = 0;
    return walkValues(m, args[0], memslots, 0, () => {
      m.store(bkt, i);
      const empty = m.truth(compared('==', m.load({ obj: objectOf(memslots[i++], 'memslot'), field: 'npages' }), 0), false);
      return empty ? 'next' : body();
    });
  },
};
