/**
 * Every fixture, every target API level: the conversion of before.c must equal
 * after.<target>.c byte for byte, converting the output again must change nothing, and the
 * scan report must list exactly the expected verdicts and diagnostic codes.
 */
import { describe, expect, it } from 'vitest';
import { TARGETS, convert, expectedScan, fixtureNames, read, scanLines } from './helpers.ts';

const names = fixtureNames();

describe('fixture set', () => {
  it('covers the five required drivers, eight or more shapes and six or more refusals', () => {
    for (const driver of ['umem', 'hfi1', 'qib', 'usnic', 'vfio']) expect(names).toContain(driver);
    expect(names.filter((n) => n.startsWith('neg-')).length).toBeGreaterThanOrEqual(6);
    expect(names.filter((n) => !n.startsWith('neg-')).length).toBeGreaterThanOrEqual(13);
  });
});

describe.each(names)('fixture %s', (name) => {
  const before = read(name, 'before.c');
  it.each(TARGETS)('converts to after.%s.c exactly', (target) => {
    expect(convert(before, target).output).toBe(read(name, `after.${target}.c`));
  });
  it.each(TARGETS)('is idempotent on %s (converting the output changes nothing)', (target) => {
    const after = read(name, `after.${target}.c`);
    expect(convert(after, target).output).toBe(after);
  });
  it.each(TARGETS)('reports the expected verdicts on %s', (target) => {
    expect(scanLines(name, target)).toEqual(expectedScan(name, target));
  });
});
