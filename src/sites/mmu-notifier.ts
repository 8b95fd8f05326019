/**
 * MMU notifiers, per pin group (pin_user_pages.rst case 3, H9). A file (or linked unit) that
 * uses a notifier keeps on FOLL_GET only the groups whose pages the notifier manages:
 *
 *  - dropped (or taken) in code an ops table's callback reaches through calls of the file;
 *  - acquired for the range the notifier tracks: the acquire's function, or one it is reached
 *    from, registers a notifier or samples its sequence (mmu_interval_read_begin(), …), or the
 *    file registers one for a whole mm (it tracks every address: kvm_main.c);
 *  - kept in a field of the struct that holds the notifier;
 *
 * and, being unable to tell them apart from those, the groups kept in a field of that name reached
 * through a pointer of unknown type, or released in a function that also releases managed pages.
 * The other groups convert. When the callbacks cannot all be seen (no ops table with an
 * initializer, a callback or ops table from elsewhere), every group with a site in the file is
 * refused, as every group of such a file used to be. Groups already on the pin API are left alone
 * by the caller (src/sites/groups.ts).
 */
import type { Node, Tree } from '../parse/kernel-c.ts';
import { MMU_NOTIFIER_RE } from './api.ts';
import { callArgs, callName, lineOf } from './ast.ts';
import { structName, type FileFacts, type FnInfo } from './dataflow.ts';
import type { Diagnostic } from './diagnostics.ts';
import type { Part, PinGroup } from './groups.ts';

/** Calls that tie the code calling them to a notifier's range. */
const TRACKING_RE = /^(__)?mmu_notifier_register$|^mmu_notifier_get$|^mmu_interval_notifier_insert\w*$|^mmu_interval_read_(begin|retry)$|^mmu_interval_check_retry$|^hmm_range_fault$/;

/** Calls whose first argument is a notifier: `&holder->member`. */
const TAKES_NOTIFIER_RE = /^(__)?mmu_notifier_(register|unregister|put)$|^mmu_interval_notifier_(insert\w*|remove)$|^mmu_interval_(read_begin|read_retry|check_retry|set_seq)$/;

const OPS_TYPE_RE = /^struct\s+(mmu_notifier_ops|mmu_interval_notifier_ops)$/;
const NOTIFIER_TYPE_RE = /^struct\s+(mmu_notifier|mmu_interval_notifier)\b/;

interface Callback {
  fn: string;
  /** `invalidate`, `release`, or the ops member's name. */
  kind: string;
  line: number;
}

interface Holder {
  struct: string;
  /** Where the struct is seen holding the notifier. */
  line: number;
  /** Field names seen in it (declared, or used through a variable of its type). */
  fields: Set<string>;
}


/** `h->a.b` as its root identifier and the field names along the way. */
function fieldChain(expr: Node): { root?: Node; fields: string[] } {
  const fields: string[] = [];
  let e = expr;
  for (;;) {
    if (e.type === 'pointer_expression' || e.type === 'parenthesized_expression' || e.type === 'subscript_expression')
      e = e.childForFieldName('argument') ?? e.namedChild(0)!;
    else if (e.type === 'field_expression') {
      fields.unshift(e.childForFieldName('field')?.text ?? '?');
      e = e.childForFieldName('argument')!;
    } else break;
  }
  return e.type === 'identifier' ? { root: e, fields } : { fields };
}

class NotifierModel {
  readonly callbacks: Callback[] = [];
  readonly holders = new Map<string, Holder>();
  /** Whether every callback is a function of this text. */
  visible = true;
  private callers?: Map<string, Set<string>>;

  constructor(
    private readonly text: string,
    readonly facts: FileFacts,
  ) {
    const root = facts.root;
    const tables = new Set<string>();
    for (const decl of root.descendantsOfType('declaration')) {
      if (!OPS_TYPE_RE.test(decl.childForFieldName('type')?.text.replace(/\s+/g, ' ') ?? '')) continue;
      for (const d of decl.childrenForFieldName('declarator')) {
        const init = d.type === 'init_declarator' ? d.childForFieldName('value') : null;
        if (init?.type !== 'initializer_list') continue;
        tables.add(d.childForFieldName('declarator')?.text ?? '');
        for (const pair of init.namedChildren) {
          if (pair.type !== 'initializer_pair') continue;
          const member = pair.childForFieldName('designator')?.namedChild(0)?.text ?? '?';
          let value = pair.childForFieldName('value');
          if (value?.type === 'pointer_expression') value = value.childForFieldName('argument');
          if (value?.text === 'NULL') continue;
          if (value?.type !== 'identifier' || !facts.functions.has(value.text)) this.visible = false;
          else this.callbacks.push({ fn: value.text, kind: /invalidate/.test(member) ? 'invalidate' : member, line: lineOf(pair) });
        }
      }
    }
    if (!this.callbacks.length) this.visible = false;
    for (const fn of facts.functions.values()) this.collectHolders(fn, tables);
    for (const spec of root.descendantsOfType('struct_specifier')) {
      const name = spec.childForFieldName('name')?.text;
      const body = spec.childForFieldName('body');
      if (!name || !body) continue;
      const fields = body.namedChildren.filter((f) => f.type === 'field_declaration');
      const notifier = fields.find((f) => NOTIFIER_TYPE_RE.test(f.childForFieldName('type')?.text ?? ''));
      if (!notifier) continue;
      const h = this.holder(name, lineOf(notifier));
      h.line = lineOf(notifier);
      for (const f of fields) for (const id of f.descendantsOfType('field_identifier')) h.fields.add(id.text);
    }
    // Fields used through a variable of a holder's type are that struct's fields too.
    for (const fn of facts.functions.values())
      for (const e of fn.body.descendantsOfType('field_expression')) {
        if (e.parent?.type === 'field_expression' && e.parent.childForFieldName('argument')?.id === e.id) continue;
        const { root: r, fields } = fieldChain(e);
        const h = r && this.holders.get(structName(fn.types.get(r.text)) ?? '');
        if (h) for (const f of fields) h.fields.add(f);
      }
  }

  private holder(struct: string, line: number): Holder {
    let h = this.holders.get(struct);
    if (!h) this.holders.set(struct, (h = { struct, line, fields: new Set() }));
    return h;
  }

  /** Holders seen in calls (`&obj->mn`), and in `container_of(mn, struct obj, mn)` in callbacks. */
  private collectHolders(fn: FnInfo, tables: Set<string>) {
    for (const call of fn.body.descendantsOfType('call_expression')) {
      const name = callName(call) ?? '';
      const args = callArgs(call);
      if (TAKES_NOTIFIER_RE.test(name) && args[0]) {
        const { root, fields } = fieldChain(args[0]);
        const struct = root && structName(fn.types.get(root.text));
        if (struct && fields.length) this.holder(struct, lineOf(call));
      }
      // An ops table passed at registration must be one of ours, or its callbacks are unseen.
      if (/^mmu_interval_notifier_insert\w*$|^mmu_notifier_get$/.test(name)) {
        const ops = args.find((a) => a.type === 'pointer_expression' && tables.has(a.childForFieldName('argument')?.text ?? ''));
        if (!ops) this.visible = false;
      }
      if (name === 'container_of' && args.length === 3 && NOTIFIER_TYPE_RE.test(fn.types.get(args[0].text) ?? '')) {
        const m = /^\s*struct\s+(\w+)\s*$/.exec(this.text.slice(args[1].startIndex, args[1].endIndex));
        if (m) this.holder(m[1], lineOf(call));
      }
    }
  }

  /** Each function a callback reaches (calls, or names as a function pointer), with the callback. */
  reach(): Map<string, Callback> {
    const out = new Map<string, Callback>();
    for (const cb of this.callbacks) {
      const work = [cb.fn];
      while (work.length) {
        const name = work.pop()!;
        if (out.has(name)) continue;
        out.set(name, cb);
        const fn = this.facts.functions.get(name)!;
        for (const id of fn.body.descendantsOfType('identifier'))
          if (this.facts.functions.has(id.text) && !out.has(id.text)) work.push(id.text);
      }
    }
    return out;
  }

  /** `fn` and every function of this text it is reached from. */
  reachedFrom(fn: string): string[] {
    if (!this.callers) {
      this.callers = new Map();
      for (const c of this.facts.localCalls) {
        let s = this.callers.get(c.callee);
        if (!s) this.callers.set(c.callee, (s = new Set()));
        s.add(c.fn.name);
      }
    }
    const seen = new Set<string>();
    const work = [fn];
    while (work.length) {
      const f = work.shift()!;
      if (seen.has(f)) continue;
      seen.add(f);
      work.push(...(this.callers.get(f) ?? []));
    }
    return [...seen];
  }
}

/** Why a group depends on the notifier, and what follows. */
interface Reason {
  text: string;
  then: string;
}

/** Its pages are shown to be the notifier's. */
const managed = (text: string): Reason => ({ text, then: 'notifier-managed pages need no pin' });
/** They cannot be told apart from the notifier's. */
const apart = (text: string): Reason => ({ text, then: 'they cannot be told from the pages the notifier manages' });

/**
 * The `mmu-notifier` refusal of each group the notifier(s) of `text` manage (keyed by group id);
 * groups missing from the map are independent of them.
 */
export function notifierHazards(text: string, tree: Tree, facts: FileFacts, parts: readonly Part[], groups: readonly PinGroup[]): Map<number, Diagnostic> {
  const out = new Map<number, Diagnostic>();
  const marked = parts.flatMap((part) => {
    const m = MMU_NOTIFIER_RE.exec(text.slice(part.start, part.end));
    // The parsed copy keeps every newline where it was.
    return m ? [{ part, what: m[1], line: tree.pointAt(part.start + m.index).row + 1 }] : [];
  });
  if (!marked.length) return out;
  const model = new NotifierModel(text, facts);
  const reached = model.reach();
  const inPart = (n: Node, part: Part) => n.startIndex >= part.start && n.startIndex < part.end;
  const siteIn = (g: PinGroup, part: Part) => [...g.acquires.map((a) => a.call), ...g.releases.map((r) => r.call)].some((n) => inPart(n, part));
  const refuse = (g: PinGroup, why: Reason) => out.set(g.id, { code: 'mmu-notifier', line: g.line, message: `${why.text}: ${why.then}` });

  const wide = mmWide(facts);
  for (const g of groups) {
    const reg = wide.find((c) => parts.some((part) => inPart(c, part) && siteIn(g, part)));
    const why =
      byCallback(g, reached) ??
      tracked(g, model) ??
      inHolder(g, facts, model) ??
      (reg && managed(`its pages lie in the range of the mm-wide notifier registered at line ${lineOf(reg)} (${callName(reg)}() tracks every address of the mm)`));
    if (why) refuse(g, why);
  }
  // A release function shared with managed pages: the two cannot be told apart.
  for (let changed = true; changed; ) {
    changed = false;
    for (const g of groups) {
      if (out.has(g.id)) continue;
      const other = groups.find((o) => out.has(o.id) && o.releases.some((r) => g.releases.some((s) => s.fn === r.fn)));
      if (!other) continue;
      const shared = other.releases.find((r) => g.releases.some((s) => s.fn === r.fn))!.fn.name;
      refuse(g, apart(`its pages are released in ${shared}(), which also releases the pages acquired at line ${other.line}`));
      changed = true;
    }
  }
  if (!model.visible)
    for (const g of groups) {
      const mark = marked.find(({ part }) => siteIn(g, part));
      if (!out.has(g.id) && mark)
        refuse(g, { text: `this file is an MMU-notifier user (${mark.what}, line ${mark.line}) whose callbacks gup2pin cannot all see`, then: 'they may drop these pages, which would need no pin' });
    }
  return out;
}

/**
 * Registrations of a notifier for a whole mm: it tracks every address, so no group of the file
 * that registers it can be shown outside its range (kvm_main.c, whose callbacks keep the secondary
 * MMU coherent for any page KVM maps, through arch handlers called by pointer).
 */
const mmWide = (facts: FileFacts): Node[] =>
  [...facts.functions.values()].flatMap((fn) => fn.body.descendantsOfType('call_expression').filter((c) => /^(__)?mmu_notifier_register$|^mmu_notifier_get$/.test(callName(c) ?? '')));

/** Pages dropped or taken in code a callback reaches. */
function byCallback(g: PinGroup, reached: Map<string, Callback>): Reason | undefined {
  const site = (fn: FnInfo, verb: string) => {
    const cb = reached.get(fn.name);
    if (!cb) return undefined;
    const via = fn.name === cb.fn ? '' : `, in ${fn.name}()`;
    return managed(`its pages are ${verb} by the ${cb.kind} callback ${cb.fn}() (line ${cb.line})${via}`);
  };
  for (const r of g.releases) {
    const why = site(r.fn, 'dropped');
    if (why) return why;
  }
  for (const a of g.acquires) {
    const why = site(a.fn, 'taken');
    if (why) return why;
  }
  return undefined;
}

/** Acquired where the notifier's range is registered or its sequence sampled. */
function tracked(g: PinGroup, model: NotifierModel): Reason | undefined {
  for (const a of g.acquires)
    for (const name of model.reachedFrom(a.fn.name)) {
      const call = model.facts.functions.get(name)?.body.descendantsOfType('call_expression').find((c) => TRACKING_RE.test(callName(c) ?? ''));
      if (!call) continue;
      const then = name === a.fn.name ? '' : ` and reaches ${a.fn.name}()`;
      return managed(`its pages are acquired for the range the notifier tracks: ${name}() calls ${callName(call)}() (line ${lineOf(call)})${then}`);
    }
  return undefined;
}

/**
 * Pages kept in a field of the struct holding the notifier. The provenance analysis keys a field
 * by its struct (`f:demo_region.page_list`) when the holder's type is known, by its name alone
 * (`f:page_list`) when not, and joins the two: pages in a name-only key may be any struct's.
 */
function inHolder(g: PinGroup, facts: FileFacts, model: NotifierModel): Reason | undefined {
  if (!model.holders.size) return undefined;
  const tags = new Set(g.acquires.map((a) => `${a.layout.family}:${a.id}`));
  const keys: string[] = [];
  for (const [key, held] of facts.provenance()) if (key.startsWith('f:') && [...held].some((t) => tags.has(t))) keys.push(key.slice(2));
  const untyped = new Set(keys.filter((k) => !k.includes('.')));
  const fns = new Set([...g.acquires, ...g.releases].map((s) => s.fn));
  // Named through a variable of the holder's type where the group's calls are: its field.
  const own = (h: Holder, field: string) =>
    [...fns].some((fn) => fn.body.descendantsOfType('field_expression').some((e) => e.childForFieldName('field')?.text === field && chainRootStruct(e, fn) === h.struct));
  for (const key of keys.sort()) {
    const [struct, field] = key.includes('.') ? key.split('.') : [undefined, key];
    const h = struct ? model.holders.get(struct) : [...model.holders.values()].find((x) => x.fields.has(field));
    if (!h) continue;
    // A struct's key also holds what a name-only key of the field does.
    if ((struct && !untyped.has(field)) || own(h, field))
      return managed(`its pages are kept in ->${field} of struct ${h.struct}, which holds the notifier (line ${h.line})`);
    return apart(`its pages are kept in a field named ${field}, which the file also reaches through a pointer of unknown type: it may be the one of struct ${h.struct}, which holds the notifier (line ${h.line})`);
  }
  return undefined;
}

function chainRootStruct(e: Node, fn: FnInfo): string | undefined {
  const { root } = fieldChain(e);
  return root ? structName(fn.types.get(root.text)) : undefined;
}
