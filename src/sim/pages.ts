/**
 * The page model (domain reference §2, §5): folios with refcount, FOLL_PIN bias or exact
 * pincount, dirty state and how it was set, page lock, mapping, writeback; a device that writes
 * into every page we hold; atomic context. It also keeps the *ledger* of what this code acquired
 * (ordinary references vs pins) so a release of the wrong kind, a double release or a use after
 * release is named where it happens.
 */
import { Obj } from './memory.ts';
import { keep } from './strings.ts';

const GUP_PIN_COUNTING_BIAS = 1024;

export type ErrorKind = 'put-on-pinned' | 'unpin-not-pinned' | 'over-release' | 'use-after-release' | 'sleep-in-atomic';

export interface SimError {
  kind: ErrorKind;
  /** Page label or call name. */
  what: string;
  detail: string;
}

export interface DirtyEvent {
  via: 'flag' | 'mapping';
  locked: boolean;
  wasDirty: boolean;
}

export class Folio {
  readonly pages: Page[] = [];
  refcount: number;
  pincount = 0;
  dirty: boolean;
  locked = false;
  buffers: boolean;
  freed = false;
  /** Ordinary references and pins this code holds. */
  gets = 0;
  pins = 0;
  everHeld = false;
  /** Acquired through GUP at least once (as opposed to allocated or looked up). */
  fromGup = false;
  /**
   * Also acquired by code the conversion left alone (a group it refused): nothing says this folio
   * must show as pinned while the device uses it.
   */
  leftAlone = false;
  readonly dirtyLog: DirtyEvent[] = [];
  writtenBack = false;
  dirtiedWithoutBuffers = false;
  /** When it last became held: the model's held folios, in the order they became so. */
  heldSince = 0;

  constructor(
    readonly id: number,
    readonly order: number,
    readonly mapping: 'anon' | 'file',
    readonly zero: boolean,
    /** References the folio has before this code takes any (the page cache holds one more). */
    baseline: number,
    dirty: boolean,
  ) {
    this.refcount = baseline;
    this.dirty = dirty;
    this.buffers = mapping === 'file';
  }

  get label(): string {
    return this.pages[0]?.label ?? `F${this.id}`;
  }

  get held(): number {
    return this.gets + this.pins;
  }
}

export class Page extends Obj {
  constructor(label: string, readonly folio: Folio, readonly pfn: number) {
    super(label);
  }
}

/**
 * A page's kernel address (page_address(), kmap()): the memory reads and writes through it, and
 * virt_to_page() / free_page() of it come back to the page (kvmppc hands out an address and puts
 * its page later; a driver may free_page() the address of a GUP page).
 */
export class PageAddress extends Obj {
  constructor(readonly page: Page) {
    super(`address of ${page.label}`);
  }
}

export interface PageModelOptions {
  /** 6.5+ (and 6.1.130+): FOLL_PIN takes nothing on the zero page and unpin ignores it. */
  zeroPageNotPinned: boolean;
  /** Smallest folio order whose pins are counted exactly (1 in 6.1, 2 in the 5.7 era). */
  exactPincountOrder: number;
  /** Folios are not physically contiguous: a pfn nobody gave this code lies between them. */
  scattered?: boolean;
}

const FIRST_PFN = 0x1000;
const LOG_LINES = 2000;
/** How far past the run's pages a pfn still names a real page (someone else's). */
const NEAR = 16;

export class PageModel {
  readonly folios: Folio[] = [];
  readonly byPfn = new Map<number, Page>();
  readonly errors: SimError[] = [];
  /** Human-readable account of what happened to pages, for traces and --explain. */
  readonly log: string[] = [];
  atomic = 0;
  /** Atomic sections entered so far: the one `atomic` > 0 is in is numbered by it. */
  private sections = 0;
  /** Sections that already had their sleep reported. */
  private readonly slept = new Set<number>();
  private readonly held = new Set<Folio>();
  private holds = 0;
  /**
   * Folios whose state changed since the device last looked at them: only those can give it
   * anything new to do (see deviceWrites). A run holding hundreds of pages calls out thousands
   * of times; looking at every held page each time made it quadratic.
   */
  private readonly changed = new Set<Folio>();
  /** What the device was last told: told otherwise, it looks at every held folio again. */
  private lastDevice?: { writeback: boolean; expectPinned: boolean };
  private zeroFolio?: Folio;
  /** Held pages page_maybe_dma_pinned() did not report while the device used them. */
  readonly unpinnedWhileHeld = new Set<Folio>();
  private nextPfn = FIRST_PFN;
  /** Pages of others the run looked at by pfn: they take no P-number. */
  private foreign = 0;

  constructor(readonly options: PageModelOptions) {}

  note(line: string) {
    if (this.logging) this.log.push(keep(line));
  }

  /** Whether note() still records: a loop past the cap need not build lines only to drop them. */
  get logging(): boolean {
    return this.log.length < LOG_LINES;
  }

  newFolio(order: number, mapping: 'anon' | 'file', dirty = false): Folio {
    const f = new Folio(this.folios.length, order, mapping, false, mapping === 'file' ? 2 : 1, dirty);
    this.folios.push(f);
    if (this.options.scattered && this.folios.length > 1) this.nextPfn++;
    while (this.byPfn.has(this.nextPfn)) this.nextPfn++;
    for (let i = 0; i < 1 << order; i++) {
      const p = new Page(`P${this.byPfn.size - this.foreign}`, f, this.nextPfn++);
      f.pages.push(p);
      this.byPfn.set(p.pfn, p);
    }
    return f;
  }

  /**
   * The page at `pfn`: one of the run's, or, next to them, a page nobody gave this code. That one
   * exists and belongs to someone else (one reference, not ours), so releasing it is an
   * over-release, not a no-op.
   */
  pageAtPfn(pfn: number): Page | undefined {
    const known = this.byPfn.get(pfn);
    if (known) return known;
    if (pfn < FIRST_PFN || pfn >= this.nextPfn + NEAR) return undefined;
    const f = new Folio(-1, 0, 'anon', false, 1, false);
    const p = new Page(`pfn ${pfn.toString(16)}`, f, pfn);
    f.pages.push(p);
    this.byPfn.set(pfn, p);
    this.foreign++;
    return p;
  }

  zeroPage(): Page {
    if (!this.zeroFolio) {
      const f = new Folio(this.folios.length, 0, 'anon', true, 1, false);
      this.folios.push(f);
      const p = new Page('ZERO', f, 0);
      f.pages.push(p);
      this.byPfn.set(0, p);
      this.zeroFolio = f;
    }
    return this.zeroFolio.pages[0];
  }

  private large(f: Folio) {
    return f.order >= this.options.exactPincountOrder;
  }

  maybeDmaPinned(f: Folio): boolean {
    return this.large(f) ? f.pincount > 0 : f.refcount >= GUP_PIN_COUNTING_BIAS;
  }

  error(kind: ErrorKind, what: string, detail: string) {
    this.errors.push({ kind, what, detail });
    this.note(`  !! ${detail}`);
  }

  private checkCount(f: Folio, op: string) {
    if (f.refcount <= 0 && !f.freed) {
      f.freed = true;
      this.error('over-release', f.label, `${op}(${f.label}) drops the refcount to ${f.refcount}: the page is freed under its owner`);
    }
  }

  private hold(f: Folio) {
    f.everHeld = true;
    if (!this.held.has(f)) {
      f.heldSince = ++this.holds;
      this.held.add(f);
    }
    this.changed.add(f);
  }

  private settle(f: Folio) {
    if (!f.held) this.held.delete(f);
    this.changed.add(f);
  }

  /** `touched`: the acquire is in code the conversion changed. */
  grab(p: Page, family: 'gup' | 'pin', touched = true) {
    const f = p.folio;
    f.fromGup = true;
    if (!touched) f.leftAlone = true;
    if (family === 'pin') {
      if (f.zero && this.options.zeroPageNotPinned) {
        // No pin is taken, and unpin ignores the page: the ledger still pairs them.
        f.pins++;
        this.hold(f);
        return;
      }
      if (this.large(f)) {
        f.refcount += 1;
        f.pincount += 1;
      } else f.refcount += GUP_PIN_COUNTING_BIAS;
      f.pins++;
    } else {
      f.refcount += 1;
      f.gets++;
    }
    this.hold(f);
  }

  /** A page this code got from an allocator or a lookup: one ordinary reference it owns. */
  own(p: Page) {
    p.folio.gets++;
    this.hold(p.folio);
  }

  extraRef(p: Page) {
    p.folio.refcount++;
    p.folio.gets++;
    this.hold(p.folio);
  }

  put(p: Page, op: string) {
    const f = p.folio;
    if (f.gets > 0) f.gets--;
    else if (f.pins > 0) this.error('put-on-pinned', p.label, `${op}(${p.label}) on a page pinned with FOLL_PIN: the pin is never released`);
    else if (f.everHeld) this.error('over-release', p.label, `${op}(${p.label}) after its reference was already dropped`);
    else this.error('over-release', p.label, `${op}(${p.label}) on a page this code never took a reference on`);
    f.refcount -= 1;
    this.note(`  ${op}(${p.label}): refcount ${f.refcount}`);
    this.checkCount(f, op);
    this.settle(f);
  }

  unpin(p: Page, op: string) {
    const f = p.folio;
    if (f.zero && this.options.zeroPageNotPinned) {
      if (f.pins > 0) f.pins--;
      this.settle(f);
      return;
    }
    if (f.pins > 0) f.pins--;
    else if (f.gets > 0) this.error('unpin-not-pinned', p.label, `${op}(${p.label}) on a page that holds a reference, not a pin: the refcount drops by ${GUP_PIN_COUNTING_BIAS}`);
    else if (f.everHeld) this.error('over-release', p.label, `${op}(${p.label}) after its pin was already dropped`);
    else this.error('unpin-not-pinned', p.label, `${op}(${p.label}) on a page that is not pinned`);
    if (this.large(f)) {
      f.refcount -= 1;
      f.pincount -= 1;
    } else f.refcount -= GUP_PIN_COUNTING_BIAS;
    this.note(`  ${op}(${p.label}): refcount ${f.refcount}${this.large(f) ? `, pincount ${f.pincount}` : ''}`);
    this.checkCount(f, op);
    this.settle(f);
  }

  /** Any use of a page's contents or mapping: it must still be held if it ever was. */
  touch(p: Page, op: string) {
    const f = p.folio;
    if (f.everHeld && !f.held) this.error('use-after-release', p.label, `${op}(${p.label}) after the page was released`);
  }

  dirty(p: Page, via: 'flag' | 'mapping', op: string) {
    const f = p.folio;
    this.touch(p, op);
    f.dirtyLog.push({ via, locked: f.locked, wasDirty: f.dirty });
    this.changed.add(f);
    if (via === 'mapping' && f.mapping === 'file' && !f.buffers && !f.dirtiedWithoutBuffers) {
      f.dirtiedWithoutBuffers = true;
      this.note(`  ${op}(${p.label}): the file page has no buffers any more (ext4 warns, data may be lost)`);
    } else this.note(`  ${op}(${p.label}): ${f.dirty ? 'already dirty' : 'dirty'}${via === 'flag' ? ' (flag only)' : f.locked ? ' (page locked)' : ''}`);
    f.dirty = true;
  }

  lock(p: Page, op: string) {
    this.sleep(op);
    p.folio.locked = true;
  }

  unlock(p: Page) {
    p.folio.locked = false;
  }

  /** A spinlock-style call: outside any atomic section, it opens a new one. */
  enterAtomic() {
    if (this.atomic++ === 0) this.sections++;
  }

  leaveAtomic() {
    this.atomic = Math.max(0, this.atomic - 1);
  }

  /**
   * A call that may sleep. In atomic context that is an error of the section, said once: the
   * comparison asks whether the after run sleeps in a section where the before run did not
   * (set_page_dirty_lock() under pd->lock becomes unpin_user_pages_dirty_lock() there: no new
   * sleep), not how often or in which call.
   */
  sleep(op: string) {
    if (this.atomic === 0 || this.slept.has(this.sections)) return;
    this.slept.add(this.sections);
    this.error('sleep-in-atomic', `atomic section ${this.sections}`, `${op}() may sleep but runs in atomic context (atomic section ${this.sections})`);
  }

  get holding(): boolean {
    return this.held.size > 0;
  }

  /**
   * The device writes into every page it was given while we hold it. With `writeback`, a
   * file-backed page is written back (cleaned, buffers dropped) in the middle of the DMA —
   * the scenario FOLL_PIN exists for.
   */
  deviceWrites(writeback: boolean, expectPinned: boolean) {
    const last = this.lastDevice;
    if (last?.writeback !== writeback || last.expectPinned !== expectPinned) {
      for (const f of this.held) this.changed.add(f);
      this.lastDevice = { writeback, expectPinned };
    }
    if (!this.changed.size) return;
    // A held folio nothing happened to since the last look gives nothing new: it was added to
    // unpinnedWhileHeld then or never will be until its counts change, and written back then or
    // not dirty. The others are looked at in the order they are held, as all of them would be.
    const due = this.changed.size === 1 ? this.changed : [...this.changed].sort((a, b) => a.heldSince - b.heldSince);
    for (const f of due) this.look(f, writeback, expectPinned);
    this.changed.clear();
  }

  /** The device writing into one folio, if we hold it. */
  private look(f: Folio, writeback: boolean, expectPinned: boolean) {
    if (!this.held.has(f)) return;
    if (expectPinned && f.fromGup && !f.leftAlone && !(f.zero && this.options.zeroPageNotPinned) && !this.maybeDmaPinned(f)) this.unpinnedWhileHeld.add(f);
    if (writeback && f.mapping === 'file' && !f.writtenBack && f.dirty) {
      f.writtenBack = true;
      f.dirty = false;
      f.buffers = false;
      this.note(`  writeback cleans ${f.label} and drops its buffers; page_maybe_dma_pinned(${f.label}) = ${this.maybeDmaPinned(f)}`);
      this.note(`  the device writes ${f.label} again after writeback`);
    }
  }
}
