/**
 * Multi-file fixtures (fixtures/linked/<name>/): a small kernel tree whose pin groups cross
 * files. At every target the conversion of before/ must equal after.<target>/ file for file, byte
 * for byte; converting an after tree again changes nothing; the scan report names the verdicts
 * and the files of each group (scan.txt, target 6.5).
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EarlyUnits, type LinkContext } from '../src/link/link.ts';
import { reportLines } from '../src/emit/report.ts';
import { analyzeText, processFile, run } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { LINKED, TARGETS, linkedFixtureNames, treeFiles } from './support.ts';
import { scratchDir } from './helpers.ts';

/** The tree `dir` as gup2pin would leave it: each file's output, or its text when unchanged. */
async function converted(dir: string, target: string) {
  const result = await run([dir], apiFor(parseVersion(target)), dir);
  const files = treeFiles(dir);
  for (const f of result.files) files.set(relative(dir, f.path), f.output);
  return { files, result };
}

const names = linkedFixtureNames();

describe('linked fixture set', () => {
  it('has the five drivers as multi-file trees', () => {
    expect(names).toEqual(expect.arrayContaining(['hfi1', 'qib', 'umem', 'usnic', 'vfio']));
    for (const name of names) expect(treeFiles(join(LINKED, name, 'before')).size).toBeGreaterThanOrEqual(3);
  });
});

describe.each(names)('linked fixture %s', (name) => {
  const before = join(LINKED, name, 'before');
  it.each(TARGETS)('converts to after.%s/ exactly', async (target) => {
    const { files } = await converted(before, target);
    expect(Object.fromEntries(files)).toEqual(Object.fromEntries(treeFiles(join(LINKED, name, `after.${target}`))));
  });
  it.each(TARGETS)('is idempotent on %s (converting after/ changes nothing)', async (target) => {
    const after = join(LINKED, name, `after.${target}`);
    const { files } = await converted(after, target);
    expect(Object.fromEntries(files)).toEqual(Object.fromEntries(treeFiles(after)));
  });
  it('reports the expected verdicts, naming every file of a linked group', async () => {
    // A copy: the scan shows paths relative to the tree, as from its top.
    const dir = scratchDir();
    cpSync(before, dir, { recursive: true });
    const { result } = await converted(dir, '6.5');
    const lines = result.files.flatMap((f) => reportLines(f));
    expect(lines).toEqual(readFileSync(join(LINKED, name, 'scan.txt'), 'utf8').split('\n').filter(Boolean));
  });
});

describe('linked units worked out early', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  // umem's and vfio's helpers are exported: their callers are searched for in the whole tree, once, at the end.
  const EARLY: Record<string, boolean> = { hfi1: true, qib: true, usnic: true, umem: false, vfio: false };

  it.each(names)('%s: with threads, the same output, and the unit analysed as its open file came taken when it is linked within its directory', async (name) => {
    // Enough files for the run to start its threads (and so link early), the fixture among them.
    const dir = scratchDir('gup2pin-early-');
    cpSync(join(LINKED, name, 'before'), join(dir, 'drivers'), { recursive: true });
    mkdirSync(join(dir, 'padding'));
    for (let i = 0; i < 2100; i++) writeFileSync(join(dir, 'padding', `f${i}.c`), 'int x;\n');
    const api = apiFor(parseVersion('6.5'));
    const alone = await run([dir], api, dir, { jobs: 1 });
    const take = vi.spyOn(EarlyUnits.prototype, 'take');
    const threaded = await run([dir], api, dir, { jobs: 2 });
    expect(threaded.threads).toBe(2);
    expect(take.mock.results.some((r) => r.value !== undefined)).toBe(EARLY[name]);
    const view = (r: typeof alone) => r.files.map((f) => ({ display: f.display, output: f.output, report: reportLines(f) }));
    expect(view(threaded)).toEqual(view(alone));
  });
});

describe('EarlyUnits.take', () => {
  it('gives the early outcome only for the same files, texts and open files', async () => {
    const dir = scratchDir('gup2pin-take-');
    cpSync(join(LINKED, 'hfi1', 'before'), dir, { recursive: true });
    const api = apiFor(parseVersion('6.5'));
    const { files } = await run([dir], api, dir, { jobs: 1 });
    const open = files.filter((f) => f.linked && readFileSync(f.path, 'utf8') === f.original);
    const ctx: LinkContext = {
      paths: [dir],
      walked: [],
      shown: (p) => relative(dir, p),
      analyze: analyzeText,
      policy: (display) => ({ core: false, file: display }),
      verify: true,
      api,
      bytes: (p) => readFileSync(p),
      read: (p) => readFileSync(p, 'utf8'),
    };
    const early = new EarlyUnits(ctx, (path, display) => ({ path, display, original: '', output: '', groups: [], notGup: [], verification: new Map() }));
    // Every file's own result, before linking, as the run hands them on: the open ones with their links.
    const own = treeFiles(dir);
    const results = [...own.keys()].map((f) => processFile(join(dir, f), { api, root: dir, options: {} })).flatMap((o) => (o && 'result' in o ? [o.result] : []));
    for (const r of results) early.add(r);
    const acquirers = (p: string) => results.find((r) => r.path === p)?.links?.acquirers ?? [];
    const members = open[0].linked!.map((d) => join(dir, d));
    const unitFiles = members.map((p) => ({ path: p, display: relative(dir, p), text: readFileSync(p, 'utf8') }));
    expect(acquirers(members[0]).length + acquirers(members[1]).length + acquirers(members[2]).length).toBeGreaterThan(0);
    expect(early.take(unitFiles, acquirers)).toBeDefined();
    expect(early.take(unitFiles.map((f, i) => (i === 1 ? { ...f, text: `${f.text}\n` } : f)), acquirers)).toBeUndefined();
    expect(early.take(unitFiles, (p) => (p === members[1] ? ['some_acquirer'] : acquirers(p)))).toBeUndefined();
    expect(early.take(unitFiles.slice(1), acquirers)).toBeUndefined();
  });
});
