/**
 * Linking units: joined texts map back to their files, and a group whose conversion needs a file
 * outside the given paths is refused, naming it.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportLines } from '../src/emit/report.ts';
import { joinUnit, locateLine, segmentAt, splitEdits } from '../src/link/unit.ts';
import { run } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { LINKED } from './support.ts';
import { scratchDir } from './helpers.ts';

describe('joined units', () => {
  const unit = joinUnit([
    { path: '/t/a.c', display: 'a.c', text: 'int a;\nint b;\n' },
    { path: '/t/b.c', display: 'b.c', text: 'int c;' },
    { path: '/t/c.c', display: 'c.c', text: 'x\ny\n' },
  ]);
  it('joins with a newline only where a file lacks one, and maps lines and offsets back', () => {
    expect(unit.text).toBe('int a;\nint b;\nint c;\nx\ny\n');
    expect(unit.segments.map((s) => [s.start, s.end, s.row])).toEqual([[0, 14, 0], [14, 20, 2], [21, 25, 3]]);
    expect(locateLine(unit, 2)).toMatchObject({ line: 2, segment: { display: 'a.c' } });
    expect(locateLine(unit, 3)).toMatchObject({ line: 1, segment: { display: 'b.c' } });
    expect(locateLine(unit, 5)).toMatchObject({ line: 2, segment: { display: 'c.c' } });
    expect(segmentAt(unit, 21).display).toBe('c.c');
  });
  it('splits edits per file with file-relative offsets, and throws on an edit across files', () => {
    const split = splitEdits(unit, [{ start: 18, end: 19, text: 'C' }, { start: 23, end: 24, text: 'Y' }]);
    expect([...split].map(([s, e]) => [s.display, e])).toEqual([['b.c', [{ start: 4, end: 5, text: 'C' }]], ['c.c', [{ start: 2, end: 3, text: 'Y' }]]]);
    expect(() => splitEdits(unit, [{ start: 12, end: 16, text: '' }])).toThrow('a.c');
  });
});

describe('a group across files, given one of them', () => {
  it('is refused with outside-paths naming the other file, and nothing is changed', async () => {
    const dir = scratchDir();
    cpSync(join(LINKED, 'usnic', 'before'), dir, { recursive: true });
    const verbs = join(dir, 'drivers/infiniband/hw/usnic/usnic_ib_verbs.c');
    const result = await run([verbs], apiFor(parseVersion('6.5')), dir);
    expect(result.files.flatMap((f) => reportLines(f))).toContain(
      'drivers/infiniband/hw/usnic/usnic_ib_verbs.c:98: refused outside-paths: the conversion also edits drivers/infiniband/hw/usnic/usnic_ib_qp_grp.c, which is not among the given paths: pass it too',
    );
    for (const f of result.files) expect(f.output, f.display).toBe(f.original);
  });
});
