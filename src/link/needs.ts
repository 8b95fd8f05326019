/**
 * What a file's pin groups need from other files: the names through which its pages leave or
 * enter it. An acquire whose pages reach a parameter or the return value of a function other files
 * can call (a "pin" helper), or a struct field, is released elsewhere; a release whose pages come
 * from a parameter of such a function (an "unpin" helper) was acquired elsewhere. Computed per
 * file in the worker, as plain data: the runner searches the tree for these names.
 */
import { CANDIDATE_RE } from '../sites/api.ts';
import type { FnInfo } from '../sites/dataflow.ts';
import type { Diagnostic } from '../sites/diagnostics.ts';
import { FILE_HAZARD_CODES, type FileAnalysis, type PinGroup } from '../sites/groups.ts';

export interface LinkNeeds {
  /** Functions whose callers elsewhere pass or receive the pages. */
  functions: string[];
  /** Of those, the ones the file exports (EXPORT_SYMBOL*): callers may be anywhere in the tree. */
  exported: string[];
  /**
   * Struct fields the pinned pages are stored in (`->notify_page`), with the struct types seen
   * holding them (`vmci_ctx`): another file must name one of those types to share the field.
   */
  fields: Array<{ name: string; structs: string[] }>;
  /** The groups (ids in the file's own analysis) whose pages take those ways. */
  groups: number[];
  /** The functions holding those groups' acquires: a file defining one too is a copy of this one. */
  acquirers: string[];
}

/** Fields by name, with the struct types holding them (from typed keys, and from the uses). */
function fieldNeeds(analysis: FileAnalysis, keys: Set<string>): LinkNeeds['fields'] {
  const byName = new Map<string, Set<string>>();
  for (const k of keys) {
    const [struct, name] = k.includes('.') ? k.split('.') : [undefined, k];
    const structs = byName.get(name) ?? byName.set(name, new Set()).get(name)!;
    if (struct) structs.add(struct);
  }
  return [...byName.keys()].sort().map((name) => ({ name, structs: [...new Set([...byName.get(name)!, ...structsHolding(analysis, name)])].sort() }));
}

/** The struct types whose `field` this file uses through a variable of known type. */
function structsHolding(analysis: FileAnalysis, field: string): string[] {
  const out = new Set<string>();
  for (const fn of analysis.facts.functions.values())
    for (const e of fn.body.descendantsOfType('field_expression')) {
      if (e.childForFieldName('field')?.text !== field) continue;
      const holder = e.childForFieldName('argument');
      const type = holder?.type === 'identifier' ? fn.types.get(holder.text) : undefined;
      const m = type && /^(?:const\s+)?struct\s+(\w+)/.exec(type);
      if (m) out.add(m[1]);
    }
  return [...out].sort();
}

/** Can code of another file call `fn` (directly, or through a pointer this file hands out)? */
const callableFromOutside = (fn: FnInfo) => !fn.isStatic || fn.addressTaken;

/** A group (of either family) missing something only another file can have. */
export const OPEN_CODES: ReadonlySet<string> = new Set(['no-release', 'mixed-provenance']);

/**
 * The ways a group's pages take through a file: the struct fields they are stored in, and the
 * functions through whose parameters or return value they pass (the acquire helper's `pages`, the
 * release helper's `p`).
 */
function channels(analysis: FileAnalysis, g: PinGroup): { fields: Set<string>; functions: Set<string> } {
  const { facts } = analysis;
  const fields = new Set<string>();
  const functions = new Set<string>();
  const tags = new Set(g.acquires.map((a) => `${a.layout.family}:${a.id}`));
  for (const [key, held] of facts.provenance()) {
    if (![...held].some((t) => tags.has(t))) continue;
    const [kind, a, b] = key.split(':');
    // `f:vmci_ctx.notify_page` (or `f:notify_page` when no holder's type was known).
    if (kind === 'f') fields.add(a);
    else if (kind === 'r' || (kind === 'v' && facts.functions.get(a)?.params.includes(b))) functions.add(a);
  }
  for (const r of g.releases) for (const t of analysis.releaseTags.get(r)!) if (t.startsWith('nocaller:')) functions.add(t.slice(9));
  return { fields, functions };
}

const exportRe = (name: string) => new RegExp(`\\bEXPORT_SYMBOL\\w*\\s*\\(\\s*${name}\\s*\\)`);

/**
 * Per group, the exported functions (EXPORT_SYMBOL*) its pages pass through or its calls are in:
 * modules outside the tree that use them must release the pages the new way too.
 */
export function exportedHelpers(analysis: FileAnalysis): Map<number, string[]> {
  const out = new Map<number, string[]>();
  if (!/\bEXPORT_SYMBOL/.test(analysis.text)) return out;
  for (const g of analysis.groups) {
    const names = channels(analysis, g).functions;
    for (const site of [...g.acquires, ...g.releases]) names.add(site.fn.name);
    const exported = [...names].filter((n) => exportRe(n).test(analysis.text)).sort();
    if (exported.length) out.set(g.id, exported);
  }
  return out;
}

/**
 * Groups whose pages leave through a function of a header, a `static inline` GUP wrapper such as
 * 6.5+ mm.h's get_user_page_vma_remote(): every file including the header may call it and
 * release the pages, and no search of its callers is made (the whole tree may be). Such a group
 * is refused, as one whose pages are handed to a function outside the file is; one with no
 * release here at all is refused for that already.
 */
export function headerEscapes(analysis: FileAnalysis, inHeader: (offset: number) => boolean): Map<number, Diagnostic[]> {
  const out = new Map<number, Diagnostic[]>();
  for (const g of analysis.groups) {
    if (g.family !== 'gup' || !g.releases.length) continue;
    const through = [...channels(analysis, g).functions].filter((name) => {
      const fn = analysis.facts.functions.get(name);
      return !!fn && inHeader(fn.node.startIndex);
    });
    if (!through.length) continue;
    const names = through.sort().map((n) => `${n}()`).join(', ');
    out.set(g.id, [{ code: 'escape', line: g.line, message: `the pinned pages leave through ${names}, defined in a header: any file that includes it may release them` }]);
  }
  return out;
}

export function linkNeeds(analysis: FileAnalysis): LinkNeeds | undefined {
  const { facts } = analysis;
  const functions = new Set<string>();
  const fields = new Set<string>();
  // A function other files can call; the API itself (mm/gup.c, or a header's inline wrapper) is
  // not a driver's helper.
  const callable = (name: string) => {
    const fn = facts.functions.get(name);
    return !!fn && callableFromOutside(fn) && !CANDIDATE_RE.test(`${name}(`);
  };
  const groups: number[] = [];
  const acquirers = new Set<string>();
  for (const g of analysis.groups) {
    // Pages kept in a struct field or handed to another file's caller may be released there,
    // even when this file releases them too (an error path here, the teardown elsewhere).
    if (g.family !== 'gup' && !g.hazards.some((h) => OPEN_CODES.has(h.code))) continue;
    // Refused whatever its partners (an MMU notifier manages kvm_main.c's groups): no use
    // searching the tree for them.
    if (g.hazards.some((h) => FILE_HAZARD_CODES.has(h.code))) continue;
    const ways = channels(analysis, g);
    const fns = [...ways.functions].filter(callable);
    for (const f of ways.fields) fields.add(f);
    for (const f of fns) functions.add(f);
    if (!ways.fields.size && !fns.length) continue;
    groups.push(g.id);
    for (const a of g.acquires) acquirers.add(a.fn.name);
  }
  for (const o of analysis.orphans)
    for (const t of analysis.releaseTags.get(o.release)!) if (t.startsWith('nocaller:') && callable(t.slice(9))) functions.add(t.slice(9));
  if (!functions.size && !fields.size) return undefined;
  return {
    functions: [...functions].sort(),
    exported: [...functions].filter((f) => exportRe(f).test(analysis.text)).sort(),
    fields: fieldNeeds(analysis, fields),
    groups,
    acquirers: [...acquirers].sort(),
  };
}
