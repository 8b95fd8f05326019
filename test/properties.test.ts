/**
 * Properties every conversion must have, on every fixture and every target its after.*.c files
 * name: the output parses no worse than the input, nothing changes outside the reported edits,
 * converting the output again changes nothing, and two runs give the same result — in process
 * and through the CLI (`apply` twice, `diff` after `apply`, one thread or three).
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportLines, fileReport } from '../src/emit/report.ts';
import { processText } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { FIXTURES, fixtureNames, fixtureTargets, gup2pin, read, scratchDir } from './helpers.ts';
import { collateral, errorNodeCount } from './invariants.ts';

const names = fixtureNames();
const targets = fixtureTargets();

/** What diff/apply/scan do with a text (the simulator on, as by default). */
function run(text: string, target: string) {
  const { plan, verification } = processText(text, apiFor(parseVersion(target)), { core: false }, { verify: true });
  return { plan, report: reportLines(fileReport('before.c', plan, verification)) };
}

describe('the targets', () => {
  it('are named by the fixtures', () => expect(targets).toEqual(['5.3', '5.4', '5.6', '6.5']));
});

describe.each(names)('fixture %s', (name) => {
  const before = read(name, 'before.c');
  describe.each(targets)('on %s', (target) => {
    const first = run(before, target);
    const { output, edits } = first.plan;

    it('parses no worse after the conversion', () => {
      expect(errorNodeCount(output)).toBeLessThanOrEqual(errorNodeCount(before));
    });

    it('changes nothing outside the reported edits', () => {
      expect(collateral(before, output, edits)).toBeUndefined();
    });

    it('is idempotent: converting the output changes nothing', () => {
      const again = run(output, target).plan;
      expect(again.edits).toEqual([]);
      expect(again.output).toBe(output);
    });

    it('is deterministic: a second run gives the same output, edits and report', () => {
      const second = run(before, target);
      expect(second.plan.output).toBe(output);
      expect(second.plan.edits).toEqual(edits);
      expect(second.report).toEqual(first.report);
    });
  });
});

/** Every file under `root`, by relative path, with its content. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of (readdirSync(root, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()))
    out[join(f.parentPath, f.name).slice(root.length + 1)] = readFileSync(join(f.parentPath, f.name), 'utf8');
  return out;
}

describe('the CLI on a copy of fixtures/', () => {
  it.each(['6.5', '5.4'])('on %s: apply twice writes what apply once wrote, and diff after apply prints nothing and exits 0', (target) => {
    const root = scratchDir();
    cpSync(FIXTURES, join(root, 'fixtures'), { recursive: true });
    const first = gup2pin(['apply', '--target', target, 'fixtures'], root);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('converted fixtures/');
    const once = snapshot(root);
    const second = gup2pin(['apply', '--target', target, 'fixtures'], root);
    expect([second.code, second.stdout]).toEqual([0, '']);
    expect(snapshot(root)).toEqual(once);
    const diff = gup2pin(['diff', '--target', target, 'fixtures'], root);
    expect([diff.code, diff.stdout]).toEqual([0, '']);
  }, 60_000);

  // test/cli.test.ts compares diff, scan --json and verify across thread counts; apply writes
  // files and names them as it goes, which threads could reorder.
  it('apply writes the same files and prints the same lines with --jobs 1 and --jobs 3', () => {
    const trees = [1, 3].map(() => {
      const root = scratchDir();
      cpSync(FIXTURES, join(root, 'fixtures'), { recursive: true });
      // Enough files that the runner starts threads (THREADS_FROM_FILES in src/run.ts).
      mkdirSync(join(root, 'fixtures', 'other'));
      for (let i = 0; i < 2000; i++) writeFileSync(join(root, 'fixtures', 'other', `f${i}.c`), `int f${i}(void)\n{\n\treturn ${i};\n}\n`);
      return root;
    });
    const [one, three] = [1, 3].map((jobs, i) => gup2pin(['apply', '--target', '6.5', '--jobs', String(jobs), '--timings', 'fixtures'], trees[i]));
    expect(three.stderr).toMatch(/summed over 3 threads/);
    expect(three.stdout).toBe(one.stdout);
    expect(three.stdout.split('\n').length).toBeGreaterThan(20);
    // The closing line without its time.
    const counts = (stderr: string) => stderr.split('\n')[0].replace(/, [\d.]+ s$/, '');
    expect(counts(three.stderr)).toBe(counts(one.stderr));
    expect(snapshot(trees[1])).toEqual(snapshot(trees[0]));
  }, 120_000);
});
