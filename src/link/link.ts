/**
 * Tree-wide linking: the files whose pin groups need another file (an acquire released elsewhere,
 * a release helper whose pages come from elsewhere) are joined with the files that call their
 * helpers or use their fields, and analysed, planned and verified again as one unit. A group is
 * then acquire(s) + release(s) in any number of files, converted whole or refused whole.
 *
 * Callers are searched for in the directory of the helper's file (a module's files), and, for
 * an exported helper, in the whole kernel tree that holds the paths (outside a kernel tree: the
 * given paths). Files found outside the given paths are read and analysed too; an edit that
 * would be needed in one is refused, naming it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileReport, type FileReport, type GroupReport } from '../emit/report.ts';
import { entryKey, readEntry, writeEntry, type ResultCacheJob } from '../cache/results.ts';
import { walk, type WalkProblem } from '../discover/walk.ts';
import { planFile, withForced, type FilePlan, type Policy } from '../plan/plan.ts';
import { checkConversion, planVerified, type Check } from '../sim/index.ts';
import type { GroupVerification } from '../sim/verdict.ts';
import { RELEASE_APIS } from '../sites/api.ts';
import { functionName } from '../sites/dataflow.ts';
import type { Diagnostic } from '../sites/diagnostics.ts';
import type { FileAnalysis, Part } from '../sites/groups.ts';
import { timed } from '../timing.ts';
import { OPEN_CODES, exportedHelpers, headerEscapes, type LinkNeeds } from './needs.ts';
import { kernelTreeOf } from './tree.ts';
import { joinUnit, locateLine, restoreSegment, segmentAt, splitEdits, type Segment, type Unit, type UnitFile } from './unit.ts';

/** More files than this in one unit: the helper is a library, not one driver's pair. */
export const MAX_UNIT_FILES = 8;

/** One file's result, as the run gives it and linking replaces it. */
export interface LinkedResult extends FileReport {
  /** Absolute path. */
  path: string;
  original: string;
  /** The converted text (=== original when nothing converts). */
  output: string;
  /** `verify`: the simulator's verdict on each changed group of our own conversion. */
  checks?: Check[];
  /** Names through which this file's pages leave it or enter it: its groups need other files. */
  links?: LinkNeeds;
  /** Every file of the linked unit this result comes from (display paths), when linked. */
  linked?: string[];
}

export interface LinkContext {
  /** The given paths, absolute. */
  paths: string[];
  /** The C files the run found under them. */
  walked: readonly string[];
  /** How a path is shown (relative to --root). */
  shown: (path: string) => string;
  /** Parse and analyse a text. */
  analyze: (text: string, parts: readonly Part[]) => FileAnalysis;
  policy: (display: string) => Policy;
  verify: boolean;
  check?: { explain: boolean };
  api: Parameters<typeof planFile>[1];
  /**
   * A file's bytes for a first byte search (undefined: unreadable; it is not linked). `near`: a
   * file of an open file's directory, searched again when the run links and read as text if it
   * matches: kept for the run, read once (a tree-wide search's thousands of files are not kept).
   */
  bytes: (path: string, near?: boolean) => Buffer | undefined;
  /** Why a file cannot be used, or its text. */
  read: (path: string, display: string) => string | WalkProblem;
  /** Where a unit's results are kept, and taken from while its files are unchanged. */
  cache?: ResultCacheJob;
  /** Units already worked out while the run went through the files. */
  early?: EarlyUnits;
}

/** What analysing a unit needs besides the run's context. */
interface UnitContext extends LinkContext {
  /** The functions holding the acquires of a file's groups that need linking (none: not open). */
  acquirers: (path: string) => readonly string[];
}

const RELEASE_CALL_RE = new RegExp(`\\b(${Object.keys(RELEASE_APIS).join('|')})\\s*\\(`);

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** How a file is searched for the names an open file needs. */
interface Search {
  /** Byte strings one of which a file must hold to be read as text (most hold none). */
  words: Buffer[];
  test: (text: string) => boolean;
}

const wordsRe = (names: string[]) => new RegExp(`\\b(${names.map(escape).join('|')})\\b`);

/**
 * Within a module's directory: does a file call or name one of the functions, or, beside a
 * release, use one of the fields in a struct type it names (a field name alone is too common:
 * `->pages` is in every driver)? Across the tree: does it name one of the exported functions?
 */
function searches(needs: LinkNeeds): { dir: Search; tree?: Search } {
  const fn = needs.functions.length ? wordsRe(needs.functions) : undefined;
  // A file that defines the function holding the acquire is another version of this one (a
  // definition starts its line; calls are indented): it is not a partner. (processUnit drops
  // such copies too; this only spares parsing them.)
  const copy = needs.acquirers.length ? new RegExp(`^(?:[\\w*]+[ \\t]+)*\\**(${needs.acquirers.map(escape).join('|')})\\s*\\(`, 'm') : undefined;
  const partner = (test: (text: string) => boolean) => (text: string) => test(text) && !copy?.test(text);
  const fields = needs.fields.map((f) => ({
    use: new RegExp(`(->|\\.)${escape(f.name)}\\b`),
    struct: f.structs.length ? new RegExp(`\\bstruct\\s+(${f.structs.map(escape).join('|')})\\b`) : undefined,
  }));
  const dir: Search = {
    words: [...needs.functions, ...needs.fields.map((f) => f.name)].map((w) => Buffer.from(w)),
    test: partner(
      (text) => !!fn?.test(text) || (fields.length > 0 && RELEASE_CALL_RE.test(text) && fields.some((f) => f.use.test(text) && (!f.struct || f.struct.test(text)))),
    ),
  };
  if (!needs.exported.length) return { dir };
  const exported = wordsRe(needs.exported);
  return { dir, tree: { words: needs.exported.map((w) => Buffer.from(w)), test: partner((text) => exported.test(text)) } };
}

/** The .c files of one directory (not below it). */
function cFilesIn(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.c'))
      .map((e) => join(dir, e.name))
      .sort();
  } catch {
    return [];
  }
}

const isUnder = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

export function linkResults<R extends LinkedResult>(results: R[], run: LinkContext, make: (path: string, display: string) => R): { results: R[]; problems: WalkProblem[] } {
  const open = results.filter((r) => r.links);
  if (!open.length) return { results, problems: [] };
  const problems: WalkProblem[] = [];
  const byPath = new Map(results.map((r) => [r.path, r]));
  const ctx: UnitContext = { ...run, acquirers: (path) => byPath.get(path)?.links?.acquirers ?? [] };
  // Only the texts of files a unit may take are kept: a tree-wide search reads thousands.
  const texts = new Map<string, string | WalkProblem>();
  const readText = (path: string) => texts.get(path) ?? byPath.get(path)?.original ?? ctx.read(path, ctx.shown(path));
  const textOf = (path: string) => {
    let t = texts.get(path);
    if (t === undefined) texts.set(path, (t = readText(path)));
    return t;
  };

  // Where callers may be: the helper's directory, and for exported helpers the whole tree.
  let treeFiles: string[] | undefined;
  const wholeTree = () => {
    if (!treeFiles) {
      const top = kernelTreeOf(ctx.paths);
      // The run walked the tree already when it was given the tree (`gup2pin diff .` at the top).
      const walked = !top || ctx.paths.some((p) => isUnder(top, p));
      treeFiles = (walked ? ctx.walked : walk([top]).files).filter((f) => f.endsWith('.c'));
    }
    return treeFiles;
  };

  // Union-find over paths: a unit is a connected set of files.
  const parent = new Map<string, string>();
  const find = (p: string): string => {
    const q = parent.get(p) ?? p;
    if (q === p) return p;
    const r = find(q);
    parent.set(p, r);
    return r;
  };
  const union = (a: string, b: string) => {
    for (const p of [a, b]) if (!parent.has(p)) parent.set(p, p);
    parent.set(find(a), find(b));
  };

  // Open files whose groups could not be linked, and why: their groups must not convert alone.
  const unlinked = new Map<R, string>();
  timed('link', () => {
    // Which open files each file may serve: its directory's, and every exporter's. The tree is
    // read once, whatever the number of exporters, and a byte search for the names comes first.
    const askers = new Map<string, Array<{ r: R; search: Search }>>();
    const ask = (f: string, r: R, search: Search) => f !== r.path && (askers.get(f) ?? askers.set(f, []).get(f)!).push({ r, search });
    const near = new Set<string>();
    for (const r of open) {
      const { dir, tree } = searches(r.links!);
      const local = cFilesIn(dirname(r.path));
      for (const f of local) ask(f, r, dir), near.add(f);
      if (tree) {
        const skip = new Set(local);
        for (const f of wholeTree()) if (!skip.has(f)) ask(f, r, tree);
      }
    }
    const found = new Map<R, string[]>(open.map((r) => [r, []]));
    for (const [f, asks] of askers) {
      // An asker with callers in too many files already is a library: it is not linked anyway,
      // and once every asker of a file is one, the file is not even read (on 6.1, iov_iter's
      // exports have their eighth caller 24,000 of the 32,000 files into the tree).
      const live = asks.filter((a) => found.get(a.r)!.length < MAX_UNIT_FILES);
      if (!live.length) continue;
      const bytes = byPath.has(f) ? Buffer.from(byPath.get(f)!.original) : ctx.bytes(f, near.has(f));
      if (!bytes) continue;
      const maybe = live.filter((a) => a.search.words.some((w) => bytes.includes(w)));
      if (!maybe.length) continue;
      const t = readText(f);
      if (typeof t !== 'string') continue;
      for (const a of maybe) if (a.search.test(t)) found.get(a.r)!.push(f);
    }
    for (const [r, files] of found) {
      // A helper of half the tree (an mm/ or lib/ export) is a library, not a driver's pair.
      if (files.length >= MAX_UNIT_FILES) {
        unlinked.set(r, `its pages are shared with ${MAX_UNIT_FILES} or more other files (${files.slice(0, 3).map(ctx.shown).join(', ')}, …), more than gup2pin links`);
        continue;
      }
      for (const f of files) {
        texts.set(f, readText(f));
        union(r.path, f);
      }
    }
  });

  const components = new Map<string, string[]>();
  for (const p of parent.keys()) {
    const root = find(p);
    (components.get(root) ?? components.set(root, []).get(root)!).push(p);
  }
  // What the units came to: their results, and every file whose result alone they replace.
  const replaced: R[] = [];
  const inUnit = new Set<string>();
  const take = (u: { results: R[]; files: string[] }) => {
    replaced.push(...u.results);
    for (const p of u.files) inUnit.add(p);
  };
  const openIn = (members: string[]) => members.map((p) => byPath.get(p)).filter((r): r is R => !!r?.links);
  // Our own failure on a unit (a bug, or line endings that cannot be restored) costs its files,
  // left alone and named, as a failure on one file does (run.ts), never the run.
  const attempt = (files: UnitFile[], work: () => UnitOutcome<R>): UnitOutcome<R> | undefined => {
    try {
      return work();
    } catch (e) {
      const others = files.slice(1).map((f) => f.display);
      const linkedWith = others.length ? ` with the files linked to it (${others.join(', ')})` : '';
      problems.push({ path: files[0].display, reason: `internal error, left alone${linkedWith}: ${(e as Error).message}` });
      return undefined;
    }
  };
  for (const members of components.values()) {
    members.sort();
    const files: UnitFile[] = [];
    for (const path of members.length > MAX_UNIT_FILES ? [] : members) {
      const t = textOf(path);
      if (typeof t !== 'string') {
        problems.push(t);
        break;
      }
      files.push({ path, display: ctx.shown(path), text: t });
    }
    const linked: UnitOutcome<R> =
      members.length > MAX_UNIT_FILES
        ? { refused: `it would join ${members.length} files, more than gup2pin links` }
        : files.length !== members.length
          ? { refused: `${ctx.shown(members[files.length])} cannot be read` }
          : ((run.early?.take(files, ctx.acquirers) as UnitOutcome<R> | undefined) ??
            attempt(files, () => cachedUnit(joinUnit(files), ctx, make)) ?? { results: [], files: members });
    if ('refused' in linked) for (const r of openIn(members)) unlinked.set(r, linked.refused);
    else {
      take(linked);
      for (const c of linked.copies ?? [])
        for (const r of openIn([c.path])) unlinked.set(r, `it defines the same ${r.links!.acquirers.map((n) => `${n}()`).join(', ')} as ${ctx.shown(c.of)}, of which it is taken for a copy`);
    }
  }
  // A group that needed other files and could not have them is refused, not converted alone.
  for (const [r, why] of unlinked) {
    // Converted alone, or refused for want of the other files: either way, linking is the reason.
    const converted = r.groups.filter(
      (g) => r.links!.groups.includes(g.id) && (g.verdict === 'converted' || (g.verdict === 'refused' && OPEN_CODES.has(g.diagnostics[0]?.code))),
    );
    if (inUnit.has(r.path) || !converted.length) continue;
    const message = `not linked with the files that share its pages: ${why}`;
    const refusals = new Map(converted.map((g) => [g.id, [{ code: 'not-linked' as const, line: g.line, message }]]));
    const file = { path: r.path, display: r.display, text: r.original };
    const alone = attempt([file], () => cachedUnit(joinUnit([file]), ctx, make, refusals)) ?? { results: [], files: [r.path] };
    if (!('refused' in alone)) take(alone);
  }

  // Results in path order: each unit's files replace what the files gave alone.
  const out: R[] = [...replaced];
  for (const r of results) if (!inUnit.has(r.path)) out.push(r);
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { results: out, problems };
}

/**
 * Units worked out while the run still goes through the files. An open file's result is linked,
 * as soon as it comes, with the partners its own directory holds, and that unit is analysed then:
 * a big unit (6.1's book3s_64_mmu_hv.c with book3s_hv.c, seconds of simulation) keeps one thread
 * busy while the others go on with the files, instead of every thread but one waiting for it at
 * the end. linkResults takes such an outcome only for the very unit it would analyse itself (the
 * same files and texts, the same open files among them); anything else is worked out again.
 */
export class EarlyUnits {
  private readonly seen = new Map<string, LinkedResult>();
  private readonly done = new Map<string, { files: UnitFile[]; acquirers: string[][]; outcome: UnitOutcome<LinkedResult> }>();

  constructor(
    private readonly run: LinkContext,
    private readonly make: (path: string, display: string) => LinkedResult,
  ) {}

  /** A file's result, as the run gets it: if its groups need partners, link and analyse them now. */
  add(r: LinkedResult): void {
    this.seen.set(r.path, r);
    if (!r.links) return;
    try {
      timed('link', () => this.link(r, r.links!));
    } catch {
      // Only an early start: linkResults works the unit out again, and says what went wrong.
    }
  }

  private link(r: LinkedResult, needs: LinkNeeds): void {
    const { dir, tree } = searches(needs);
    // A tree-wide search reads thousands of files: it is done once, at the end, for every exporter.
    if (tree) return;
    const files: UnitFile[] = [{ path: r.path, display: r.display, text: r.original }];
    for (const f of cFilesIn(dirname(r.path))) {
      if (f === r.path) continue;
      const bytes = this.run.bytes(f, true);
      if (!bytes || !dir.words.some((w) => bytes.includes(w))) continue;
      const text = this.run.read(f, this.run.shown(f));
      if (typeof text !== 'string') return;
      if (dir.test(text)) files.push({ path: f, display: this.run.shown(f), text });
    }
    if (files.length < 2 || files.length > MAX_UNIT_FILES) return;
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const acquirers = (path: string) => this.seen.get(path)?.links?.acquirers ?? [];
    // Two open files of one unit each find the other: the unit is worked out once.
    if (this.take(files, acquirers)) return;
    const outcome = cachedUnit(joinUnit(files), { ...this.run, acquirers }, this.make);
    this.done.set(files.map((f) => f.path).join('\n'), { files, acquirers: files.map((f) => [...acquirers(f.path)]), outcome });
  }

  /** The outcome of this unit if it was worked out early from the same inputs, else undefined. */
  take(files: readonly UnitFile[], acquirers: (path: string) => readonly string[]): UnitOutcome<LinkedResult> | undefined {
    const early = this.done.get(files.map((f) => f.path).join('\n'));
    if (!early) return undefined;
    const same = files.every(
      (f, i) => f.display === early.files[i].display && f.text === early.files[i].text && sameList(acquirers(f.path), early.acquirers[i]),
    );
    return same ? early.outcome : undefined;
  }
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * A unit's results from the result cache while its files (bytes, paths, which are among the given
 * paths) are unchanged, else worked out and kept.
 */
function cachedUnit<R extends LinkedResult>(
  unit: Unit,
  ctx: UnitContext,
  make: (path: string, display: string) => R,
  refused: ReadonlyMap<number, Diagnostic[]> = new Map(),
): UnitOutcome<R> {
  const job = ctx.cache;
  const work = () => timed('verify', () => processUnit(unit, ctx, make, refused));
  if (!job) return work();
  const name = unit.segments.map((s) => `${s.display}${isGiven(ctx, s) ? '' : ' (outside)'}`).join('\n');
  // Keyed on the files as read (NUL never is in one): a partner's CRLF twin gives other outputs.
  const key = entryKey(job, `unit\n${name}\n${JSON.stringify([...refused])}`, unit.segments.map((s) => s.endings.raw).join('\0'));
  // Kept with display paths and without the texts: the same display path can name another file
  // under another --root, and the texts are the ones just read.
  type Kept = { refused: string } | { results: R[]; files: string[]; copies?: Array<{ path: string; of: string }> };
  const kept = timed('read', () => readEntry<Kept>(job, key));
  const byDisplay = new Map(unit.segments.map((s) => [s.display, s]));
  if (kept) {
    if ('refused' in kept) return kept;
    const seg = (display: string) => byDisplay.get(display)!;
    return {
      results: kept.results.map((r) => ({ ...r, path: seg(r.display).path, original: seg(r.display).endings.raw })),
      files: kept.files.map((d) => seg(d).path),
      copies: kept.copies?.map((c) => ({ path: seg(c.path).path, of: seg(c.of).path })),
    };
  }
  const outcome = work();
  const shown = new Map(unit.segments.map((s) => [s.path, s.display]));
  writeEntry(
    job,
    key,
    'refused' in outcome
      ? outcome
      : {
          results: outcome.results.map((r) => ({ ...r, original: '' })),
          files: outcome.files.map((p) => shown.get(p)!),
          copies: outcome.copies?.map((c) => ({ path: shown.get(c.path)!, of: shown.get(c.of)! })),
        },
  );
  return outcome;
}

const isGiven = (ctx: LinkContext, s: Segment) => ctx.paths.some((p) => isUnder(s.path, resolve(p)));

/**
 * Files of the unit that define a function another file of it defines too. A file that defines
 * the function holding an open file's acquire is a copy or another version of that file (a
 * directory of alternatives, or of before/after copies): it is left out. Any other clash (a static
 * helper of the same name in two partner files) makes the unit impossible: the joined text would
 * bind calls to the wrong one.
 */
function clashingFiles(unit: Unit, analysis: FileAnalysis, ctx: UnitContext): { drop: Set<Segment>; copyOf: Map<Segment, Segment> } | { refused: string } {
  const definers = new Map<string, Segment[]>();
  for (const def of analysis.tree.rootNode.descendantsOfType('function_definition')) {
    const name = functionName(def);
    if (!name) continue;
    const seg = segmentAt(unit, def.startIndex);
    const list = definers.get(name) ?? definers.set(name, []).get(name)!;
    if (!list.includes(seg)) list.push(seg);
  }
  // The first version of a file stays (path order), its copies go.
  const copyOf = new Map<Segment, Segment>();
  for (const open of unit.segments) {
    if (copyOf.has(open)) continue;
    for (const name of ctx.acquirers(open.path)) for (const s of definers.get(name) ?? []) if (s !== open && !copyOf.has(s)) copyOf.set(s, open);
  }
  for (const [name, segs] of definers) {
    const left = segs.filter((s) => !copyOf.has(s));
    if (left.length > 1) return { refused: `${name}() is defined in ${left[0].display} and ${left[1].display}` };
  }
  return { drop: new Set(copyOf.keys()), copyOf };
}

/**
 * What linking a unit comes to: the results of its files and the files they stand for (none when
 * nothing was left to link), or why it cannot be analysed as one.
 */
type UnitOutcome<R> = { results: R[]; files: string[]; copies?: Array<{ path: string; of: string }> } | { refused: string };

function processUnit<R extends LinkedResult>(
  unit: Unit,
  ctx: UnitContext,
  make: (path: string, display: string) => R,
  refused: ReadonlyMap<number, Diagnostic[]>,
): UnitOutcome<R> {
  const analysis = ctx.analyze(unit.text, unit.segments);
  if (unit.segments.length > 1) {
    const clash = clashingFiles(unit, analysis, ctx);
    if ('refused' in clash) return clash;
    if (clash.drop.size) {
      const rest = unit.segments.filter((s) => !clash.drop.has(s));
      // Nothing but versions of one file (a directory of before/after copies): nothing to link.
      if (rest.length < 2) return { results: [], files: [] };
      const outcome = processUnit(joinUnit(rest), ctx, make, refused);
      if ('refused' in outcome) return outcome;
      const copies = [...clash.drop].map((s) => ({ path: s.path, of: clash.copyOf.get(s)!.path }));
      return { ...outcome, copies: [...(outcome.copies ?? []), ...copies] };
    }
  }
  const home = unit.segments.find((s) => isGiven(ctx, s)) ?? unit.segments[0];
  const escapes = headerEscapes(analysis, (offset) => segmentAt(unit, offset).display.endsWith('.h'));
  const policy = withForced({ ...ctx.policy(home.display), forced: refused }, escapes);
  const outside = unit.segments.filter((s) => !isGiven(ctx, s));
  let { plan, verification } = planUnit(analysis, ctx, policy);
  // A conversion that needs an edit in a file outside the paths is refused, naming the file.
  const outsiders = new Map<number, Diagnostic[]>();
  for (const g of plan.groups) {
    if (g.verdict !== 'converted') continue;
    const touched = [...splitEdits(unit, g.edits).keys()].filter((s) => outside.includes(s));
    if (touched.length)
      outsiders.set(g.group.id, touched.map((s) => ({ code: 'outside-paths', line: g.group.line, message: `the conversion also edits ${s.display}, which is not among the given paths: pass it too` })));
  }
  if (outsiders.size) ({ plan, verification } = planUnit(analysis, ctx, withForced(policy, outsiders)));
  const checks = ctx.check && checkConversion({ text: unit.text, analysis }, { text: plan.output, edits: plan.edits }, ctx.api, ctx.check.explain);
  const results = unitResults(unit, fileReport('', plan, verification, exportedHelpers(analysis)), plan, checks, make);
  return { results, files: unit.segments.map((s) => s.path) };
}

function planUnit(analysis: FileAnalysis, ctx: LinkContext, policy: Policy): { plan: FilePlan; verification: Map<number, GroupVerification> } {
  if (ctx.verify && !ctx.check) return planVerified(analysis, ctx.api, policy);
  return { plan: timed('plan', () => planFile(analysis, ctx.api, policy)), verification: new Map() };
}

/** One result per file of the unit that has a group, a refusal or a change. */
function unitResults<R extends LinkedResult>(unit: Unit, whole: FileReport, plan: FilePlan, checks: Check[] | undefined, make: (path: string, display: string) => R): R[] {
  const { verification } = whole;
  const edits = splitEdits(unit, plan.edits);
  const linked = unit.segments.map((s) => s.display);
  const at = (line: number) => locateLine(unit, line);
  const out: R[] = [];
  for (const seg of unit.segments) {
    const mine = (line: number) => at(line).segment === seg;
    const groups = whole.groups.filter((g) => mine(g.line)).map((g) => localGroup(unit, seg, g));
    const notGup = whole.notGup.filter((d) => mine(d.line)).map((d) => localDiagnostic(unit, seg, d));
    const original = seg.endings.raw;
    const output = restoreSegment(seg, edits.get(seg) ?? []);
    if (!groups.length && !notGup.length && output === original) continue;
    const ids = new Set(groups.map((g) => g.id));
    const ver = new Map([...verification].filter(([id]) => ids.has(id)).map(([id, v]) => [id, { ...v, line: at(v.line).line }]));
    const r = make(seg.path, seg.display);
    Object.assign(r, {
      original,
      output,
      groups,
      notGup,
      verification: ver,
      linked,
      checks: checks?.filter((c) => mine(c.verification.line)).map((c) => ({ ...c, verification: { ...c.verification, line: at(c.verification.line).line } })),
    });
    out.push(r);
  }
  return out;
}

/** `line N` in a message, as seen from `seg`: a line of another file is named `file:N`. */
function localMessage(unit: Unit, seg: Segment, message: string): string {
  return message.replace(/\bline (\d+)/g, (_, n) => {
    const { segment, line } = locateLine(unit, Number(n));
    return segment === seg ? `line ${line}` : `${segment.display}:${line}`;
  });
}

/** A diagnostic as reported with `seg`'s groups: its line in its own file, which is named if not `seg`. */
function localDiagnostic(unit: Unit, seg: Segment, d: Diagnostic): Diagnostic {
  const { segment, line } = locateLine(unit, d.line);
  const message = localMessage(unit, seg, d.message);
  return segment === seg ? { ...d, line, message } : { ...d, line, message, file: segment.display };
}

function localGroup(unit: Unit, seg: Segment, g: GroupReport): GroupReport {
  const place = (line: number) => {
    const { segment, line: l } = locateLine(unit, line);
    return segment === seg ? { line: l } : { line: l, file: segment.display };
  };
  const files = new Set([seg.display]);
  const acquires = g.acquires.map((a) => ({ ...a, ...place(a.line) }));
  const releases = g.releases.map((r) => ({ ...r, ...place(r.line) }));
  const escapes = g.escapes.map((e) => ({ ...e, ...place(e.line) }));
  for (const x of [...acquires, ...releases]) if ('file' in x && x.file) files.add(x.file);
  return {
    ...g,
    line: place(g.line).line,
    acquires,
    releases,
    escapes,
    diagnostics: g.diagnostics.map((d) => localDiagnostic(unit, seg, d)),
    ...(g.findings && { findings: g.findings.map((d) => localDiagnostic(unit, seg, d)) }),
    files: [...files],
    linkedWith: unit.segments.map((s) => s.display).filter((d) => !files.has(d)),
  };
}
