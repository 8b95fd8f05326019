/**
 * Multi-file fixtures (fixtures/linked/<name>/): a small kernel tree whose pin groups cross
 * files. At every target the conversion of before/ must equal after.<target>/ file for file, byte
 * for byte; converting an after tree again changes nothing; the scan report names the verdicts
 * and the files of each group (scan.txt, target 6.5).
 */
import { cpSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportLines } from '../src/emit/report.ts';
import { run } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { LINKED, TARGETS, linkedFixtureNames } from './support.ts';
import { scratchDir } from './helpers.ts';

/** Every file below `dir`, relative to it, with its text. */
function treeFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) visit(p);
      else out.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  visit(dir);
  return out;
}

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
