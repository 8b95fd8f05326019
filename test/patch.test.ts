import { describe, it, expect } from 'vitest';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { filesFromPatch } from '../src/review/patch.ts';
import { git, scratchDir } from './helpers.ts';

const UMEM = 'drivers/infiniband/core/umem.c';
const HDR = 'drivers/infiniband/core/umem.h';

const BEFORE = `// SPDX-License-Identifier: GPL-2.0
#include <linux/mm.h>
#include "umem.h"

static int umem_get(unsigned long start, int npages, struct page **pages)
{
\tint ret;

\tret = get_user_pages(start, npages, FOLL_WRITE, pages);
\tif (ret < 0)
\t\treturn ret;
\treturn ret == npages ? 0 : -EFAULT;
}

static int umem_count;
static int umem_limit = 64;

static void umem_release(struct page **pages, int npages)
{
\tint i;

\tfor (i = 0; i < npages; i++)
\t\tput_page(pages[i]);
\tumem_count--;
}
`;
const AFTER = BEFORE.replace('get_user_pages(', 'pin_user_pages(').replace(
  '\tint i;\n\n\tfor (i = 0; i < npages; i++)\n\t\tput_page(pages[i]);\n',
  '\tunpin_user_pages(pages, npages);\n',
);
// No trailing newline: the patch carries "\ No newline at end of file".
const HDR_BEFORE = '#ifndef UMEM_H\n#define UMEM_H\nint umem_get(unsigned long start, int npages, struct page **pages);\n#endif';
const HDR_AFTER = HDR_BEFORE.replace('#endif', '#endif /* UMEM_H */');

const tmp = () => scratchDir('gup2pin-patch-');

function write(dir: string, files: Record<string, string>) {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

/** A committed throwaway git tree. */
function tree(files: Record<string, string>): string {
  const dir = tmp();
  write(dir, files);
  git(dir, 'init', '-q');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'base');
  return dir;
}

/** Commit an edit on top of the tree (formatPatch takes it back out). */
function commitEdit(dir: string, files: Record<string, string>, remove: string[] = [], message = 'RDMA/umem: use pin_user_pages()') {
  write(dir, files);
  for (const f of remove) rmSync(join(dir, f));
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', `${message}\n\nConvert get_user_pages() to pin_user_pages().\n\nSigned-off-by: Dev <dev@example.org>`);
}

/** The last n commits as one mbox, then the tree goes back to before them. */
function formatPatch(dir: string, n: number): string {
  const patch = git(dir, 'format-patch', `-${n}`, '-M', '--stdout');
  git(dir, 'reset', '-q', '--hard', `HEAD~${n}`);
  return patch;
}

/** Every file of the work tree, to show it is left alone. */
const snapshot = (dir: string) =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => !f.startsWith('.git') && statSync(join(dir, f)).isFile())
    .map((f) => [f, readFileSync(join(dir, f), 'utf8')]);

describe('filesFromPatch', () => {
  it.each(['format-patch', 'git diff', 'diff -u'])('takes before from the tree and applies a %s patch in memory', (kind) => {
    const dir = tree({ [UMEM]: BEFORE });
    let patch: string;
    if (kind === 'diff -u') patch = createTwoFilesPatch(UMEM, UMEM, BEFORE, AFTER);
    else if (kind === 'git diff') {
      write(dir, { [UMEM]: AFTER });
      patch = git(dir, 'diff');
      write(dir, { [UMEM]: BEFORE });
    } else {
      commitEdit(dir, { [UMEM]: AFTER });
      patch = formatPatch(dir, 1);
      expect(patch).toMatch(/^Subject: .*\n[^]*\n---\n .*umem\.c[^]*\n-- \n\d/m);
    }
    expect(patch.match(/^@@/gm)).toHaveLength(2);
    const disk = snapshot(dir);
    expect(filesFromPatch(patch, dir)).toEqual({
      files: [{ path: join(dir, UMEM), display: UMEM, before: BEFORE, after: AFTER }],
      problems: [],
    });
    expect(snapshot(dir)).toEqual(disk);
  });

  it('returns each C file of a multi-file patch, skipping other files, bytes exact without a final newline', () => {
    const dir = tree({ [UMEM]: BEFORE, [HDR]: HDR_BEFORE, 'Documentation/umem.rst': 'umem\n' });
    commitEdit(dir, { [UMEM]: AFTER, [HDR]: HDR_AFTER, 'Documentation/umem.rst': 'pinned umem\n' });
    const patch = formatPatch(dir, 1);
    expect(patch).toContain('\\ No newline at end of file');
    expect(filesFromPatch(patch, dir)).toEqual({
      files: [
        { path: join(dir, UMEM), display: UMEM, before: BEFORE, after: AFTER },
        { path: join(dir, HDR), display: HDR, before: HDR_BEFORE, after: HDR_AFTER },
      ],
      problems: [],
    });
  });

  it('applies a concatenated series in order: before is the tree, after is the last patch', () => {
    const dir = tree({ [UMEM]: BEFORE, [HDR]: HDR_BEFORE });
    const middle = BEFORE.replace('get_user_pages(', 'pin_user_pages(');
    commitEdit(dir, { [UMEM]: middle, [HDR]: HDR_AFTER }, [], 'RDMA/umem: pin the pages');
    // The second patch deletes the header the first one edited: it is not returned.
    commitEdit(dir, { [UMEM]: AFTER }, [HDR], 'RDMA/umem: unpin the pages');
    const series = formatPatch(dir, 2);
    expect(series.match(/^-- $/gm)).toHaveLength(2);
    expect(filesFromPatch(series, dir)).toEqual({
      files: [{ path: join(dir, UMEM), display: UMEM, before: BEFORE, after: AFTER }],
      problems: [],
    });
  });

  it('handles new, deleted and renamed files', () => {
    const moved = 'drivers/infiniband/core/umem_pin.c';
    const dir = tree({ [UMEM]: BEFORE, [HDR]: HDR_BEFORE });
    commitEdit(dir, { [moved]: AFTER, 'drivers/infiniband/core/new.c': '// new\n' }, [UMEM, HDR]);
    const patch = formatPatch(dir, 1);
    expect([/^rename from .*umem\.c$/m, /^\+\+\+ \/dev\/null$/m].every((re) => re.test(patch))).toBe(true);
    expect(filesFromPatch(patch, dir)).toEqual({
      files: [
        { path: join(dir, 'drivers/infiniband/core/new.c'), display: 'drivers/infiniband/core/new.c', before: '', after: '// new\n' },
        { path: join(dir, moved), display: moved, before: BEFORE, after: AFTER },
      ],
      problems: [],
    });
  });

  it('names the hunk that does not apply and still returns the other files', () => {
    const dir = tree({ [UMEM]: BEFORE, [HDR]: HDR_BEFORE });
    commitEdit(dir, { [UMEM]: AFTER, [HDR]: HDR_AFTER });
    // A follow-up to the file that fails is not applied to the tree's version instead.
    commitEdit(dir, { [UMEM]: AFTER.replace('umem_count--', 'umem_count -= npages') });
    const patch = formatPatch(dir, 2);
    // The tree moved on under the second hunk only.
    write(dir, { [UMEM]: BEFORE.replace('\t\tput_page(pages[i]);', '\t\tput_page(pages[i]); /* done */') });
    expect(filesFromPatch(patch, dir)).toEqual({
      files: [{ path: join(dir, HDR), display: HDR, before: HDR_BEFORE, after: HDR_AFTER }],
      problems: [{ path: UMEM, reason: 'hunk 2 (@@ -17,9 +17,6 @@) does not apply' }],
    });
  });

  it('reports a file missing from the tree', () => {
    const patch = createTwoFilesPatch(`a/${UMEM}`, `b/${UMEM}`, BEFORE, AFTER);
    const empty = tmp();
    expect(filesFromPatch(patch, tree({ [UMEM]: BEFORE })).files).toHaveLength(1);
    expect(filesFromPatch(patch, empty)).toEqual({ files: [], problems: [{ path: UMEM, reason: `not found under ${empty}` }] });
  });

  it('refuses paths outside the tree', () => {
    const top = tmp();
    const root = join(top, 'linux');
    write(top, { 'outside.c': BEFORE, 'linux/inside.c': BEFORE });
    const patch = [
      createTwoFilesPatch('a/../outside.c', 'b/../outside.c', BEFORE, AFTER),
      createTwoFilesPatch(join(top, 'outside.c'), join(top, 'outside.c'), BEFORE, AFTER),
      createTwoFilesPatch('a/inside.c', 'b/inside.c', BEFORE, AFTER),
    ].join('');
    expect(filesFromPatch(patch, root)).toEqual({
      files: [{ path: join(root, 'inside.c'), display: 'inside.c', before: BEFORE, after: AFTER }],
      problems: [
        { path: '../outside.c', reason: 'path leaves the tree: refused' },
        { path: join(top, 'outside.c'), reason: 'absolute path in the patch: refused' },
      ],
    });
  });

  it('says so when the text has no file diffs', () => {
    const cover = 'Subject: [PATCH 0/2] RDMA: pin user pages\n\nCover letter only.\n-- \n2.39.2\n';
    expect(filesFromPatch(cover, tmpdir())).toEqual({ files: [], problems: [{ path: '-', reason: 'no file diffs in the patch' }] });
  });
});
