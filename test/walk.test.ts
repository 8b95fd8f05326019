/** The walk (which files, which problems) and the prefilter's header rule. */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callsApi, isCFile, walk } from '../src/discover/walk.ts';
import { scratchDir } from './helpers.ts';

describe('walk', () => {
  /** A tree: drivers/a.c, drivers/..b.c (a name, not a parent), and symlinks to both. */
  function tree(): string {
    const root = scratchDir();
    mkdirSync(join(root, 'drivers', 'sub'), { recursive: true });
    writeFileSync(join(root, 'drivers', 'a.c'), '');
    writeFileSync(join(root, 'drivers', '..b.c'), '');
    symlinkSync('../a.c', join(root, 'drivers', 'sub', 'a-link.c'));
    symlinkSync('../..b.c', join(root, 'drivers', 'sub', 'b-link.c'));
    symlinkSync('..', join(root, 'drivers', 'sub', 'up'));
    return root;
  }

  it('reads a symlinked file once, at its own path; `..b.c` is inside the tree; a directory link is not descended', () => {
    const root = tree();
    const { files, problems } = walk([join(root, 'drivers')]);
    expect(files.map((f) => relative(root, f))).toEqual(['drivers/..b.c', 'drivers/a.c']);
    expect(problems).toEqual([]);
  });

  it('finds files in the order of a sort of whole paths (a directory below a longer name), each once', () => {
    const root = scratchDir();
    for (const d of ['b', 'b/c', 'b-d', 'a']) mkdirSync(join(root, d), { recursive: true });
    for (const f of ['b/x.c', 'b/c/y.c', 'b-y.c', 'b.c', 'b-d/z.c', 'a/z.h', 'b0.c']) writeFileSync(join(root, f), '');
    const expected = ['a/z.h', 'b-d/z.c', 'b-y.c', 'b.c', 'b/c/y.c', 'b/x.c', 'b0.c'];
    expect(walk([root]).files.map((f) => relative(root, f))).toEqual(expected);
    // Paths that overlap, given in any order: still each file once, in that order.
    expect(walk([join(root, 'b'), root, join(root, 'b.c')]).files.map((f) => relative(root, f))).toEqual(expected);
  });

  it('takes *.c and *.h names only', () => {
    const names = ['a.c', 'b.h', '.c', 'c', 'h', 'a.cc', 'a.C', 'a.hh', 'a.ch', 'a.c~', 'Makefile'];
    expect(names.filter(isCFile)).toEqual(['a.c', 'b.h', '.c']);
  });

  it('merges files found through symlinks (at their targets) into that order, each once', () => {
    const root = scratchDir();
    // Directories the walk skips hold the only paths to two targets: found through links alone.
    for (const d of ['a', 'b', '.cache', 'build']) mkdirSync(join(root, d));
    for (const f of ['a/m.c', 'b/x.c', '.cache/first.c', 'build/last.c']) writeFileSync(join(root, f), '');
    symlinkSync('../build/last.c', join(root, 'a', 'l1.c'));
    symlinkSync('../.cache/first.c', join(root, 'b', 'l2.c'));
    symlinkSync('x.c', join(root, 'b', 'l3.c'));
    symlinkSync('../b/x.c', join(root, 'a', 'l4.c'));
    expect(walk([root]).files.map((f) => relative(root, f))).toEqual(['.cache/first.c', 'a/m.c', 'b/x.c', 'build/last.c']);
  });

  it('the tree is the path named: a link out of it is reported, through show(), not followed', () => {
    const root = tree();
    const { files, problems } = walk([join(root, 'drivers', 'sub'), join(root, 'nope')], { show: (p) => relative(root, p) });
    expect(files).toEqual([]);
    expect(problems).toEqual([
      { path: 'drivers/sub/a-link.c', reason: 'symlink leaves the tree: not followed' },
      { path: 'drivers/sub/b-link.c', reason: 'symlink leaves the tree: not followed' },
      { path: 'drivers/sub/up', reason: 'symlink leaves the tree: not followed' },
      // Named by the user: shown as given.
      { path: join(root, 'nope'), reason: 'no such file or directory' },
    ]);
  });
});

describe('callsApi', () => {
  it('reads a text with characters beyond Latin-1 (kept as UTF-16) as any other', () => {
    // The em dash makes V8 store the text as UTF-16; comments, strings and an escaped quote still skip.
    const quiet = '// Pins — not get_user_pages() — here.\nstatic void f(void)\n{\n\tputs("a \\" get_user_pages(");\n\tx_get_user_pages(p);\n}\n';
    expect(callsApi(quiet, false)).toBe(false);
    expect(callsApi(`${quiet}static void g(void)\n{\n\tget_user_pages(1, 1, 0, p);\n}\n`, false)).toBe(true);
  });
});

describe('callsApi in a header (inBody)', () => {
  it('skips a header that only declares the API', () => {
    expect(callsApi('long get_user_pages(unsigned long start, unsigned long nr_pages,\n\t\t    unsigned int gup_flags, struct page **pages);\n', true)).toBe(false);
  });

  it('keeps a header whose inline function calls it', () => {
    const header = 'static inline bool get_page_fast_only(unsigned long addr, struct page **pagep)\n{\n\treturn get_user_pages_fast_only(addr, 1, 0, pagep) == 1;\n}\n';
    expect(callsApi(header, true)).toBe(true);
  });

  it('does not count calls or braces in comments, strings and character constants', () => {
    const header = [
      '/* { pin_user_pages(x) } */',
      'static inline char brace(void)',
      '{',
      '\t// pin_user_pages(y)',
      '\treturn "}{ get_user_pages(z)"[0] + \'}\';',
      '}',
      'int pin_user_pages(int n);',
      '',
    ].join('\n');
    expect(callsApi(header, true)).toBe(false);
  });

  it('needs the whole name: a longer identifier ending in it is not a call of it', () => {
    expect(callsApi('static inline int f(void)\n{\n\treturn my_pin_user_pages(1);\n}\n', true)).toBe(false);
  });
});

describe('callsApi in a .c file', () => {
  it('skips a file that only mentions the API in comments and strings', () => {
    const c = [
      '/*',
      ' * Unlike get_user_pages(), this never sleeps: see also pin_user_pages_fast().',
      ' */',
      'static int foo_fill(struct page **pages, int n)',
      '{',
      '	// put_user_pages() is gone',
      '	pr_debug("get_user_pages(%d)\\n", n);',
      '	return foo_alloc(pages, n);',
      '}',
      '',
    ].join('\n');
    expect(callsApi(c, false)).toBe(false);
  });

  it('keeps a file that calls it, at any depth', () => {
    expect(callsApi('static int foo_pin(unsigned long a, struct page **p)\n{\n\treturn pin_user_pages_fast(a, 1, 0, p);\n}\n', false)).toBe(true);
    expect(callsApi('#define foo_get(a, p) get_user_pages_fast(a, 1, 0, p)\n', false)).toBe(true);
  });
});
