import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { reportLines } from '../src/emit/report.ts';
import { processText } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
export const TARGETS = ['5.3', '5.4', '5.6', '6.5'] as const;

export const fixtureNames = () =>
  readdirSync(FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();

export const read = (name: string, file: string) => readFileSync(join(FIXTURES, name, file), 'utf8');

export function convert(text: string, target: string) {
  return processText(text, apiFor(parseVersion(target))).plan;
}

/** Scan lines for a fixture's before.c, paths shown as `before.c`. */
export function scanLines(name: string, target: string, file = 'before.c'): string[] {
  const original = read(name, file);
  const plan = convert(original, target);
  return reportLines({ path: file, display: file, original, plan, verification: new Map() });
}

/** Expected scan lines: scan.<target>.txt if the fixture has one, else scan.txt. */
export function expectedScan(name: string, target: string): string[] {
  const specific = join(FIXTURES, name, `scan.${target}.txt`);
  const file = existsSync(specific) ? specific : join(FIXTURES, name, 'scan.txt');
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}
