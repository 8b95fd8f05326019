/**
 * Our own failure on a linked unit (here the line endings of one of its files, which cannot be
 * restored) costs that unit's files, left alone and named, never the run: the other files are
 * still converted. In a file of its own, as it replaces restore() for the whole module graph.
 */
import { appendFileSync, cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { run } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { FIXTURES, scratchDir } from './helpers.ts';
import { LINKED } from './support.ts';

/** A file holding this comment fails to restore, as one with a lone CR before an inserted line would. */
const MARK = '/* gup2pin-test: restore fails */';

vi.mock('../src/parse/endings.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/parse/endings.ts')>();
  return {
    ...actual,
    restore: (n: Parameters<typeof actual.restore>[0], ...rest: [never, never]) => {
      if (n.raw.includes(MARK) && rest[0] && (rest[0] as unknown[]).length) throw new Error('the line endings could not be restored exactly');
      return actual.restore(n, ...rest);
    },
  };
});

describe('a linked unit gup2pin fails on', () => {
  it('is left alone and named; the other files still convert', async () => {
    const root = scratchDir();
    cpSync(join(LINKED, 'hfi1', 'before'), root, { recursive: true });
    const hfi1 = join('drivers', 'infiniband', 'hw', 'hfi1');
    appendFileSync(join(root, hfi1, 'user_pages.c'), `${MARK}\n`);
    mkdirSync(join(root, 'drivers', 'qib'), { recursive: true });
    cpSync(join(FIXTURES, 'qib', 'before.c'), join(root, 'drivers', 'qib', 'qib.c'));

    const result = await run([root], apiFor(parseVersion('6.5')), root);
    expect(result.problems).toEqual([
      {
        path: join(hfi1, 'user_exp_rcv.c'),
        reason: `internal error, left alone with the files linked to it (${join(hfi1, 'user_pages.c')}, ${join(hfi1, 'user_sdma.c')}): ${join(hfi1, 'user_pages.c')}: the line endings could not be restored exactly`,
      },
    ]);
    const changed = result.files.filter((f) => f.output !== f.original).map((f) => f.display);
    expect(changed).toEqual([join('drivers', 'qib', 'qib.c')]);
    expect(result.files.find((f) => f.display === 'drivers/qib/qib.c')!.output).toBe(readFileSync(join(FIXTURES, 'qib', 'after.6.5.c'), 'utf8'));
    expect(result.files.some((f) => f.display.startsWith(hfi1))).toBe(false);
  });
});
