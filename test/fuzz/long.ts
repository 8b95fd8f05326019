/**
 * The opt-in long fuzz run: `npm run fuzz -- [--runs N] [--seed S]` (default 10,000 inputs, a
 * random seed, printed so a run can be repeated). Every input goes through the CLI's pipeline in
 * a child process (see check.ts); the run goes on past failures to count them all, then replays
 * the first one with fast-check, which shrinks it to a minimal case. Exits 1 on any failure.
 */
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { Checker, Tally, fuzzProperty } from './check.ts';
import { fixtureTexts } from './mutators.ts';
import { fixtureTargets } from '../support.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10000' }, seed: { type: 'string' } } });
const runs = Number(values.runs);
const seed = values.seed === undefined ? Math.floor(Math.random() * 0x7fffffff) : Number(values.seed);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) {
  console.error('usage: npm run fuzz -- [--runs N] [--seed S]   (whole numbers)');
  process.exit(2);
}

const fixtures = fixtureTexts();
const targets = fixtureTargets();
const checker = new Checker();
const tally = new Tally();
const started = Date.now();
console.log(`gup2pin fuzz: ${runs} inputs, seed ${seed}, ${Object.keys(fixtures).length} fixtures, targets ${targets.join(' ')}`);

try {
  let index = 0;
  await fc.assert(
    fuzzProperty(checker, fixtures, targets, (input, o) => {
      tally.add(index++, input, o);
      if (index % 1000 === 0) console.log(`  ${index} inputs, ${tally.failures.length} failures, ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }, false),
    { numRuns: runs, seed },
  );
  for (const line of tally.lines()) console.log(line);
  console.log(`wall time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const f of tally.failures.slice(0, 20)) console.log(`\nFAILED #${f.index} (seed ${seed}, path ${f.index}): ${JSON.stringify(f.input)}\n  ${f.failure.split('\n').slice(0, 6).join('\n  ')}`);
  if (tally.failures.length) {
    // The same case again (fast-check replays run `path` of `seed`), this time shrunk.
    const first = tally.failures[0];
    console.log(`\nshrinking #${first.index}…`);
    const shrunk = await fc.check(fuzzProperty(checker, fixtures, targets, () => {}), { seed, path: String(first.index) });
    console.log(fc.defaultReportMessage(shrunk) ?? 'the replay passed: the failure depends on state (flaky)');
  }
} finally {
  await checker.close();
}
process.exitCode = tally.failures.length ? 1 : 0;
