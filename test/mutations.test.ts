/**
 * Mutation testing of the page/DMA simulator (src/sim/verify.ts).
 *
 * For every fixture whose after.6.5.c differs from before.c, each operator of ./mutations.ts
 * produces deliberately wrong conversions; the simulator must report each one `not-equivalent`
 * to before.c, for one of the reasons the operator lists. The correct conversions (all four
 * target levels) must give one result per converted group, `equivalent`, or `intended` with
 * exactly the differences scan names for the group. The negative fixtures also get `convert-anyway`: the refused release converted
 * regardless. The mutation score per kind is printed at the end; the mutants that survive must
 * be exactly those listed in mutation-survivors.txt (the simulator's known gaps).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diffLines } from 'diff';
import { afterAll, describe, expect, it } from 'vitest';
import type { GroupVerification, DivergenceReason, IntendedDifference } from '../src/sim/verdict.ts';
import { verifyTexts } from '../src/sim/verify.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { TARGETS, expectedScan, fixtureNames, read } from './helpers.ts';
import { KINDS, OPERATORS, convertAnyway, hunks, parseProblems, type MutationKind, type MutationOperator } from './mutations.ts';

const API_6_5 = apiFor(parseVersion('6.5'));
const names = fixtureNames();
const converted = names.filter((n) => read(n, 'before.c') !== read(n, 'after.6.5.c'));
const negatives = names.filter((n) => n.startsWith('neg-'));

/**
 * Kinds applicable per fixture: at least 10 everywhere. For the three negative fixtures that are
 * converted in part, `convert-anyway` (the refused release of the same file converted as well)
 * counts as one of them:
 * - neg-alloc-bounce and neg-iov-iter have one converted release, shared by the success and the
 *   error paths, that dirties nothing and has no NULL store after it and no make_dirty to swap:
 *   drop-dirty, lose-null-store, success-path-only and swap-args cannot apply (9 + convert-anyway).
 */
const MIN_KINDS = 10;

/**
 * Intended differences of each fixture's correct conversions, all targets together: exactly what
 * the simulator observes (verdict 'intended'), and what scan names for its groups (asserted both
 * ways in 'simulator: correct conversions'). A fixture not listed shows none.
 * - set_page_dirty_lock() per page → unpin_user_pages_dirty_lock(): pages already dirty (the
 *   user wrote them before the pin) are not dirtied again;
 * - vfio's, null-skip-via's and pfn-guard's SetPageDirty() → the helper's set_page_dirty_lock():
 *   mapping-aware dirtying, and again already-dirty pages skipped;
 * - siw-plist and usnic tested !PageDirty() themselves, interim-api used the dirty helper
 *   already, spinlock-setdirty keeps its set_page_dirty()/SetPageDirty(): nothing intended.
 */
const INTENDED: Record<string, IntendedDifference[]> = {
  'cond-dirty-clear': ['already-dirty-skipped'],
  'counted-pins': ['already-dirty-skipped'],
  'dirty-loop': ['already-dirty-skipped'],
  'error-path': ['already-dirty-skipped'],
  hfi1: ['already-dirty-skipped'],
  'name-clash-rename': ['already-dirty-skipped'],
  'notifier-side-group': ['already-dirty-skipped'],
  'null-skip-loop': ['already-dirty-skipped'],
  'null-skip-state': ['already-dirty-skipped'],
  'null-skip-via': ['SetPageDirty-to-mapping', 'already-dirty-skipped'],
  'phys-then-map': ['already-dirty-skipped'],
  qib: ['already-dirty-skipped'],
  'release-kinds': ['already-dirty-skipped'],
  'remote-tsk': ['already-dirty-skipped'],
  'spinlock-dirty-lock': ['already-dirty-skipped'],
  'state-switch-teardown': ['already-dirty-skipped'],
  'tag-guard-bo-type': ['already-dirty-skipped'],
  umem: ['already-dirty-skipped'],
  vfio: ['SetPageDirty-to-mapping', 'already-dirty-skipped'],
  'pfn-guard': ['SetPageDirty-to-mapping', 'already-dirty-skipped'],
};

/**
 * convert-anyway, per negative fixture: every left-alone put_page()/release_pages() site (line in
 * after.6.5.c, which is also the before.c line for all of them) is converted, one mutant each, and
 * each is scored: the reasons the simulator must reject it for. A site it cannot reject yet is a
 * survivor (mutation-survivors.txt), not left out. Only the release is converted — the acquire stays
 * get_user_pages*() (or whatever non-GUP source the pages come from) — so every one is an unpin of
 * pages that carry no FOLL_PIN.
 */
const CONVERT_ANYWAY: Record<string, { sites: Record<number, DivergenceReason[]>; note: string }> = {
  'neg-alloc-bounce': {
    sites: { 119: ['unpin-not-pinned'] },
    note: 'bounce pages come from alloc_page()',
  },
  'neg-bound': {
    sites: { 68: ['unpin-not-pinned'], 82: ['unpin-not-pinned'] },
    note: 'both loops release get_user_pages() pages (the refused bound loop and the tail loop)',
  },
  'neg-counter-before': {
    sites: { 42: ['unpin-not-pinned'] },
    note: 'get_user_pages_fast() pages, released over a count of the pins tried',
  },
  'neg-escape-release': {
    sites: { 49: ['unpin-not-pinned'] },
    note: 'get_user_pages_fast() pages, dropped here on the error path and by the library at teardown',
  },
  'neg-extra-ref': {
    sites: {
      65: ['unpin-not-pinned', 'over-release'],
      87: ['unpin-not-pinned', 'over-release'],
      100: ['unpin-not-pinned', 'over-release'],
      154: ['unpin-not-pinned'],
    },
    note:
      'the transmit release of the get_user_pages_fast() pages (154); the tap puts (65, 87, 100) drop ' +
      "the tap's own get_page() references to pages of a ring filled by earlier sends",
  },
  'neg-field-untyped': {
    sites: { 87: ['unpin-not-pinned'], 94: ['unpin-not-pinned'] },
    note:
      'the doorbell release (94) of get_user_pages_fast() pages; the entry drop (87) puts a page found ' +
      'through a header helper',
  },
  'neg-iov-iter': {
    // iov_iter_get_pages2() is an iov_iter primitive: a simulator that does not model it may see
    // the converted release only as a different call on pages it cannot classify.
    sites: { 77: ['unpin-not-pinned', 'calls'], 108: ['unpin-not-pinned'] },
    note: 'iov_iter_get_pages2() pages (77) and a find_get_page() page-cache page (108)',
  },
  'neg-mixed-helper': {
    sites: { 40: ['unpin-not-pinned'] },
    note: 'the helper releases alloc_page() coalesce pages and get_user_pages_fast() pages alike',
  },
  'neg-name-clash': {
    sites: { 40: ['unpin-not-pinned'], 103: ['unpin-not-pinned'], 120: ['unpin-not-pinned'] },
    note:
      'get_user_pages_fast() pages, on the error path (103) and at unregister (120); 40 is the ' +
      "file's own exported put_user_pages(), which nothing in the file calls",
  },
  'neg-null-skip': {
    // The slots past a short pin hold whatever kmalloc_array() left: a page of unknown origin,
    // released alike by put_page() and unpin_user_page(); the pinned slots tell them apart.
    sites: { 26: ['unpin-not-pinned'] },
    note: 'get_user_pages_fast() pages in a kmalloc_array() array',
  },
  'neg-odp': {
    // An MMU-notifier user: the pages are handed to the device (odx_hw_set_pte()) without a pin
    // on purpose. Once its releases are unpins, a simulator may first notice that the device
    // uses pages page_maybe_dma_pinned() does not report.
    sites: {
      49: ['unpin-not-pinned'],
      114: ['unpin-not-pinned', 'not-pinned'],
      119: ['unpin-not-pinned', 'not-pinned'],
      139: ['unpin-not-pinned', 'not-pinned'],
    },
    note:
      'get_user_pages_remote() pages: dropped on the retry path (114), replaced by a later fault ' +
      '(119), released at teardown (139), and by the MMU-notifier invalidate callback (49), which the ' +
      'mm calls, never this file',
  },
  'neg-pfn-unguarded': {
    sites: { 36: ['unpin-not-pinned'] },
    note: 'get_user_pages_remote() pages as pfns; the page-table pfns of a VM_PFNMAP range are never known pages here',
  },
  'neg-release-kind': {
    sites: {},
    note: 'the page the folio_put() drops is not named where it is dropped: no unpin can be written for it',
  },
  'neg-tag-guard': {
    sites: { 43: ['unpin-not-pinned'], 94: ['unpin-not-pinned'] },
    note: 'get_user_pages_fast() pages, and the bounce page when an outside caller passes a put flag',
  },
  'neg-shmem': {
    sites: { 62: ['unpin-not-pinned'], 75: ['unpin-not-pinned'] },
    note: 'shmem_read_mapping_page() pages',
  },
  'neg-struct-page-only': {
    sites: { 66: ['unpin-not-pinned'], 94: ['unpin-not-pinned'] },
    note: 'get_user_pages() and get_user_pages_fast() pages, looked at and dropped again (case 4)',
  },
  'neg-spinlock': {
    sites: { 50: ['unpin-not-pinned'] },
    note:
      'get_user_pages() pages; the release-only rewrite keeps SetPageDirty() and adds no sleep ' +
      'under pd->lock, so the unpin of pages that carry no pin is what makes it wrong',
  },
};

/**
 * Mutants that are equivalent by construction, left out of the score (fixture, kind, line of the
 * change in after.6.5.c).
 */
const EQUIVALENT: Array<{ fixture: string; kind: MutationKind; line: number; why: string }> = [
  {
    fixture: 'dirty-loop',
    kind: 'lose-null-store',
    line: 39,
    why:
      'xsk_umem_unpin_pages() is static and both its callers free the umem right after it ' +
      '(xsk_umem_release(), and xsk_umem_create() on the error return of xsk_umem_pin_pages()): ' +
      'the NULL store to umem->pgs is dead',
  },
  {
    fixture: 'tag-guard-frags',
    kind: 'success-path-only',
    line: 61,
    why:
      'sdma_drop_page(pkt, page, 0) drops the bounce page from alloc_page(), never a pinned one (its ' +
      'put flag is 0): deleting it leaks a page of the driver, which no pin group here owns',
  },
];

const isEquivalent = (fixture: string, kind: MutationKind, after: string, mutant: string) =>
  EQUIVALENT.some((e) => e.fixture === fixture && e.kind === kind && changedLine(after, mutant).startsWith(`line ${e.line}:`));

const mutantsOf = (op: MutationOperator, name: string) => op.apply(read(name, 'before.c'), read(name, 'after.6.5.c'));

/** `line N: old → new` for the first change of a mutant. */
function changedLine(after: string, mutant: string): string {
  let line = 1;
  const removed: string[] = [];
  const added: string[] = [];
  let at = 0;
  for (const p of diffLines(after, mutant)) {
    if (!p.added && !p.removed) {
      if (removed.length || added.length) break;
      line += p.count ?? 0;
      continue;
    }
    at ||= line;
    (p.added ? added : removed).push(...p.value.split('\n').filter((l) => l.trim()).map((l) => l.trim()));
  }
  return `line ${at}: ${removed.join(' ') || '∅'} → ${added.join(' ') || '∅'}`;
}

/** The line in after.6.5.c of a mutant's first change. */
const changedLineNumber = (after: string, mutant: string) => Number(/^line (\d+)/.exec(changedLine(after, mutant))![1]);

const summary = (gs: GroupVerification[]) =>
  gs.map((g) => `#${g.group}@${g.line} ${g.verdict}${g.divergence ? `/${g.divergence.reason}` : ''}${g.reason ? ` (${g.reason})` : ''}`).join(', ') || 'no groups';

// ---------------------------------------------------------------------------------------------

describe('mutation operators', () => {
  it.each(converted)('%s: mutants differ from after.6.5.c, change one thing and parse as well', (name) => {
    const after = read(name, 'after.6.5.c');
    const base = parseProblems(after);
    const ops = name.startsWith('neg-') ? [...OPERATORS, convertAnyway] : OPERATORS;
    for (const op of ops) {
      const ms = mutantsOf(op, name);
      expect(new Set(ms).size, `${op.kind}: duplicate mutants`).toBe(ms.length);
      for (const m of ms) {
        expect(m, op.kind).not.toBe(after);
        expect(parseProblems(m), `${op.kind}: ${changedLine(after, m)}`).toBeLessThanOrEqual(base);
        // Reverting an acquire or a release can touch two places: a multi-line call whose middle
        // line did not change, or the loop counter declaration the conversion had deleted.
        // switch-release-only is before.c with one release converted: it differs from after.6.5.c
        // wherever the conversion changed anything else. notifier-unpin converts a group's releases.
        const maxHunks =
          op.kind === 'switch-release-only' ? hunks(read(name, 'before.c'), after).length
          : op.kind === 'notifier-unpin' ? Infinity // every release of the group at once
          : op.kind === 'release-not-acquire' || op.kind === 'acquire-not-release' ? 2 : 1;
        expect(hunks(after, m).length, `${op.kind}: ${changedLine(after, m)}`).toBeLessThanOrEqual(maxHunks);
      }
    }
  });

  it.each(converted)('%s: at least 10 kinds apply', (name) => {
    const kinds = OPERATORS.filter((op) => mutantsOf(op, name).length > 0).map((op) => op.kind);
    if (name.startsWith('neg-') && mutantsOf(convertAnyway, name).length > 0) kinds.push('convert-anyway');
    expect(kinds.length, `${name}: ${kinds.join(', ')}`).toBeGreaterThanOrEqual(MIN_KINDS);
  });

  // The shapes issue 17 names, each with the fixture that has it: the kinds must keep applying.
  it.each([
    ['drop-null-check', 'null-skip-via', 'the NULL-checking release loop `if (NULL != (page = vsg->pages[i]))` over a kcalloc()ed array'],
    ['drop-null-check', 'null-skip-loop', '`if (!page) continue;` and `if (buf->pages[i])` over a kvcalloc()ed array'],
    ['leave-release-kind', 'free-page-error-path', 'an error path that freed the pages with __free_page()'],
    ['requested-count', 'state-switch-teardown', 'a short pin accepted, released by npinned, not nr_pages'],
    ['notifier-unpin', 'notifier-side-group', 'a group an MMU notifier manages beside a converted one'],
    ['notifier-unpin', 'neg-odp', 'a file whose only group an MMU notifier manages'],
    ['switch-release-only', 'state-switch-teardown', 'a release reached only by falling through a state switch'],
  ] as const)('%s applies to %s (%s)', (kind, fixture, _shape) => {
    const op = OPERATORS.find((o) => o.kind === kind)!;
    expect(mutantsOf(op, fixture).length).toBeGreaterThan(0);
  });

  it.each(EQUIVALENT)('$fixture $kind line $line is generated (equivalent mutant, not scored)', (e) => {
    const after = read(e.fixture, 'after.6.5.c');
    const op = OPERATORS.find((o) => o.kind === e.kind)!;
    expect(mutantsOf(op, e.fixture).some((m) => isEquivalent(e.fixture, e.kind, after, m))).toBe(true);
  });

  // Every convert-anyway mutant is scored: the sites listed are exactly the ones generated.
  it.each(negatives)('%s: convert-anyway generates exactly the listed sites', (name) => {
    const after = read(name, 'after.6.5.c');
    const ms = mutantsOf(convertAnyway, name);
    const lines = [...new Set(ms.map((m) => changedLineNumber(after, m)))].sort((x, y) => x - y);
    expect(lines).toEqual(Object.keys(CONVERT_ANYWAY[name].sites).map(Number).sort((x, y) => x - y));
  });
});

// ---------------------------------------------------------------------------------------------

interface Outcome {
  fixture: string;
  kind: MutationKind;
  change: string;
  verdicts: string;
  killed: boolean;
  /** not-equivalent, but for a reason outside the kind's set. */
  wrongReason: boolean;
}

const outcomes: Outcome[] = [];

function judge(fixture: string, kind: MutationKind, reasons: DivergenceReason[], before: string, after: string, mutant: string) {
  let verdicts: string;
  let killed = false;
  let wrongReason = false;
  try {
    const gs = verifyTexts(before, mutant, API_6_5);
    verdicts = summary(gs);
    const bad = gs.filter((g) => g.verdict === 'not-equivalent');
    killed = bad.some((g) => !!g.divergence && reasons.includes(g.divergence.reason));
    wrongReason = !killed && bad.length > 0;
  } catch (e) {
    verdicts = `threw: ${(e as Error).message.split('\n')[0]}`;
  }
  const o: Outcome = { fixture, kind, change: changedLine(after, mutant), verdicts, killed, wrongReason };
  outcomes.push(o);
  return o;
}


/**
 * Mutants the simulator does not yet kill (or kills for another reason), one per line as
 * `fixture kind: change`. The suite fails if one is added *or* removed, so the list is always
 * exactly the simulator's known gaps (none at present).
 */
const KNOWN_SURVIVORS = new Set(
  readFileSync(join(import.meta.dirname, 'mutation-survivors.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')),
);
const survivorKey = (o: Outcome) => `${o.fixture} ${o.kind}: ${o.change}`;

/**
 * Scan's `intended:` items (src/plan/release-shapes.ts dirtyDifferences(), transforms/page-pair.ts,
 * src/plan/atomic.ts) as the simulator's IntendedDifference. The "kept" items say the dirtying
 * stays as it was: no difference at all. An item not listed here fails the test.
 */
const SCAN_DIFFERENCES: Array<[RegExp, IntendedDifference | null]> = [
  [/^already-dirty pages skipped$/, 'already-dirty-skipped'],
  [/^SetPageDirty → mapping-aware dirtying under the page lock$/, 'SetPageDirty-to-mapping'],
  [/^(set_page_dirty|SetPageDirty)\(\) kept without the page lock\b/, null],
];

/** A group scan reports converted: its line in before.c and the differences it promises. */
interface ScanGroup {
  line: number;
  differences: IntendedDifference[];
}

/** The `converted` lines of a fixture's expected scan for `target` (scan.<target>.txt or scan.txt). */
function convertedGroups(name: string, target: string): ScanGroup[] {
  const out: ScanGroup[] = [];
  for (const l of expectedScan(name, target)) {
    const m = /^before\.c:(\d+): converted \S+: (.*)$/.exec(l);
    if (!m) continue;
    const items = m[2].split('; ').find((part) => part.startsWith('intended: '))?.slice('intended: '.length).split(', ') ?? [];
    const differences = new Set<IntendedDifference>();
    for (const item of items) {
      const known = SCAN_DIFFERENCES.find(([re]) => re.test(item));
      if (!known) throw new Error(`${name} scan line ${m[1]}: intended difference not in SCAN_DIFFERENCES: ${item}`);
      if (known[1]) differences.add(known[1]);
    }
    out.push({ line: Number(m[1]), differences: [...differences].sort() });
  }
  return out;
}

const verified = new Map<string, GroupVerification[]>();
/** verifyTexts of before.c → after.<target>.c, once per fixture and target. */
function verifyFixture(name: string, target: string): GroupVerification[] {
  const key = `${name} ${target}`;
  let gs = verified.get(key);
  if (!gs) verified.set(key, (gs = verifyTexts(read(name, 'before.c'), read(name, `after.${target}.c`), apiFor(parseVersion(target)))));
  return gs;
}

describe('simulator: correct conversions', () => {
  describe.each(names)('%s', (name) => {
    /*
     * How many results verifyTexts gives (src/sim/verify.ts): none when after = before; otherwise
     * one per pin group of before.c whose entry points reach a function the conversion changed, at
     * the group's line, plus one (group -1) for changed functions that no group's entry points
     * reach. A fixture's conversion edits only its converted groups — their acquires, releases,
     * loop counters, and the calls of a local function it renamed on their paths — so the results
     * are exactly scan's `converted` lines, in line order, and there is no group -1: a result
     * missing is a group the simulator never checked, an extra one code changed outside them.
     */
    it.each(TARGETS)('after.%s.c: one result per converted group, equivalent or with exactly the differences scan names', (target) => {
      const expected = convertedGroups(name, target);
      const gs = verifyFixture(name, target);
      const where = `${name} ${target}: ${summary(gs)}`;
      expect(gs.map((g) => g.line), `${where}: results at the converted groups' lines`).toEqual(expected.map((e) => e.line));
      expect(gs.filter((g) => g.group < 0).map((g) => g.what), where).toEqual([]);
      for (const [i, g] of gs.entries()) {
        // Both ways: every difference scan promises is one the simulator observes, and no other.
        expect({ verdict: g.verdict, differences: g.differences }, `${where}: group at line ${g.line}`).toEqual({
          verdict: expected[i].differences.length ? 'intended' : 'equivalent',
          differences: expected[i].differences,
        });
      }
    });

    it('INTENDED lists exactly the differences observed on all targets', () => {
      const seen = new Set(TARGETS.flatMap((t) => verifyFixture(name, t).flatMap((g) => g.differences)));
      expect([...seen].sort()).toEqual([...(INTENDED[name] ?? [])].sort());
    });
  });
});

describe('simulator: mutants are not equivalent, for the right reason', () => {
  describe.each(converted)('%s', (name) => {
    const before = read(name, 'before.c');
    const after = read(name, 'after.6.5.c');
    for (const op of OPERATORS) {
      const ms = op.apply(before, after).filter((m) => !isEquivalent(name, op.kind, after, m));
      if (ms.length === 0) continue;
      it(`${op.kind} (${ms.length} mutant${ms.length > 1 ? 's' : ''})`, { timeout: 600_000 }, () => {
        const survivors = ms.map((m) => judge(name, op.kind, op.reasons, before, after, m)).filter((o) => !o.killed && !KNOWN_SURVIVORS.has(survivorKey(o)));
        expect(survivors.map((o) => `${o.change} ⇒ ${o.verdicts}`), `expected ${op.reasons.join('|')}`).toEqual([]);
      });
    }
  });

  describe.each(negatives)('%s', (name) => {
    const before = read(name, 'before.c');
    const after = read(name, 'after.6.5.c');
    const { sites } = CONVERT_ANYWAY[name];
    it('convert-anyway', { timeout: 600_000 }, () => {
      const survivors: string[] = [];
      for (const m of convertAnyway.apply(before, after)) {
        const line = changedLineNumber(after, m);
        const reasons = sites[line] ?? [];
        const o = judge(name, 'convert-anyway', reasons, before, after, m);
        if (!o.killed && !KNOWN_SURVIVORS.has(survivorKey(o))) survivors.push(`${o.change} ⇒ ${o.verdicts} (expected ${reasons.join('|')})`);
      }
      expect(survivors).toEqual([]);
    });
    // A negative fixture whose refused group an MMU notifier manages (neg-odp) converts none of
    // its releases: notifier-unpin, all of them at once, is scored here.
    const notifier = OPERATORS.find((op) => op.kind === 'notifier-unpin')!;
    const ms = after === before ? notifier.apply(before, after) : [];
    if (ms.length)
      it('notifier-unpin', { timeout: 600_000 }, () => {
        const survivors = ms.map((m) => judge(name, notifier.kind, notifier.reasons, before, after, m)).filter((o) => !o.killed && !KNOWN_SURVIVORS.has(survivorKey(o)));
        expect(survivors.map((o) => `${o.change} ⇒ ${o.verdicts}`), `expected ${notifier.reasons.join('|')}`).toEqual([]);
      });
  });

  it('the surviving mutants are exactly the known gaps in test/mutation-survivors.txt', () => {
    const survivors = outcomes.filter((o) => !o.killed).map(survivorKey).sort();
    expect(outcomes.length).toBeGreaterThan(0);
    expect(survivors).toEqual([...KNOWN_SURVIVORS].sort());
  });
});

afterAll(() => {
  if (outcomes.length === 0) return;
  const kinds: MutationKind[] = [...KINDS, 'convert-anyway'];
  const rows = kinds.map((k) => {
    const os = outcomes.filter((o) => o.kind === k);
    const killed = os.filter((o) => o.killed).length;
    return [k, String(os.length), String(killed), os.length ? `${((100 * killed) / os.length).toFixed(1)} %` : '-'];
  });
  const killed = outcomes.filter((o) => o.killed).length;
  rows.push(['overall', String(outcomes.length), String(killed), `${((100 * killed) / outcomes.length).toFixed(1)} %`]);
  const header = ['kind', 'mutants', 'killed', 'score'];
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  const lines = ['', 'Mutation score (simulator vs deliberately wrong conversions)', fmt(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(fmt)];
  const survivors = outcomes.filter((o) => !o.killed);
  if (survivors.length) {
    lines.push('', 'Surviving mutants:');
    for (const o of survivors)
      lines.push(`  ${o.fixture} ${o.kind}${o.wrongReason ? ' [wrong reason]' : ''}: ${o.change} ⇒ ${o.verdicts}`);
  }
  console.log(lines.join('\n'));
});
