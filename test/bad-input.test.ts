/**
 * Bad input, end to end: every file or path the run cannot use gets one stderr line naming it
 * and the reason, the other files are still converted in the same run, and the exit status
 * says that something was skipped (2). Code tree-sitter could not parse around a site is
 * refused with `parse-error`, never edited. Every test runs on LF sources and on their CRLF
 * twins (a vendor tree committed from Windows): the same outcomes, each line's ending kept.
 */
import type { SpawnSyncOptions } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseC } from '../src/parse/kernel-c.ts';
import { BIN, FIXTURES, gup2pin, read, scratchDir } from './helpers.ts';

/** `diff`, quiet (stderr holds only the problem lines), on `paths` under `root`. */
const diff = (root: string, ...paths: string[]) => gup2pin(['diff', '-q', '--target', '6.5', ...paths], root);

let unprivileged: SpawnSyncOptions | string | undefined;
/**
 * Spawn options under which permissions bite, or why there are none. Root reads a chmod 000
 * file anyway, and tests run as root in CI: there the CLI runs as nobody (uid/gid 65534), on a
 * scratch tree that user can traverse (mkdtemp makes it 0700).
 */
function asUnprivileged(root: string): SpawnSyncOptions | string {
  chmodSync(root, 0o755);
  if (process.getuid?.() !== 0) return {};
  if (unprivileged === undefined) {
    const ids = { uid: 65534, gid: 65534 };
    const probe = gup2pin(['scan', '-q', '--target', '6.5', 'drivers'], root, ids);
    unprivileged = probe.code === 0 ? ids : `uid 65534 cannot run ${BIN} here: ${probe.stderr || probe.code}`;
  }
  return unprivileged;
}

/** The two line endings every test runs with: `eol` writes a test's LF text with them. */
const ENDINGS = [
  { name: 'LF', eol: (text: string) => text },
  { name: 'CRLF', eol: (text: string) => text.replaceAll('\n', '\r\n') },
];

describe.each(ENDINGS)('$name sources', ({ eol }) => {
  /** A candidate: the hfi1 fixture, which converts on 6.5. */
  const SOURCE = Buffer.from(eol(readFileSync(join(FIXTURES, 'hfi1', 'before.c'), 'utf8')));
  const CONVERTED = eol(read('hfi1', 'after.6.5.c'));

  /**
   * A scratch tree with SOURCE at drivers/good/good.c, the file every run must still convert, and
   * `files` (path → contents) beside it.
   */
  function tree(files: Record<string, string | Buffer> = {}): string {
    const root = scratchDir();
    mkdirSync(join(root, 'drivers', 'good'), { recursive: true });
    writeFileSync(join(root, 'drivers', 'good', 'good.c'), SOURCE);
    for (const [path, contents] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), contents);
    }
    return root;
  }

  /** What `diff` prints for the good file alone: every run below must print exactly this. */
  let goodDiff: string;
  beforeAll(() => {
    const r = diff(tree(), 'drivers');
    expect(r).toMatchObject({ code: 1, stderr: '' });
    expect(r.stdout).toMatch(/^diff --git a\/drivers\/good\/good\.c b\/drivers\/good\/good\.c\n/);
    goodDiff = r.stdout;
  });

  /** The scan line of SOURCE at `path`. */
  const goodScan = (path: string) => `${path}:71: converted acquire+whole-loop: get_user_pages_fast() with 1 release at line 88; intended: already-dirty pages skipped`;

  /** SOURCE with `bytes` inserted after its first line (a comment). */
  const withBytes = (bytes: Buffer) => {
    const second = SOURCE.indexOf('\n') + 1;
    return Buffer.concat([SOURCE.subarray(0, second), bytes, SOURCE.subarray(second)]);
  };

  describe('files and paths that cannot be used: one line each, the rest converted, exit 2', () => {
    it('a file it may not read: cannot read (EACCES)', (ctx) => {
      const root = tree({ 'drivers/bad/locked.c': SOURCE });
      const options = asUnprivileged(root);
      if (typeof options === 'string') return ctx.skip(options);
      chmodSync(join(root, 'drivers', 'bad', 'locked.c'), 0o000);
      const r = gup2pin(['diff', '-q', '--target', '6.5', 'drivers'], root, options);
      chmodSync(join(root, 'drivers', 'bad', 'locked.c'), 0o644);
      expect(r).toEqual({ code: 2, stdout: goodDiff, stderr: 'gup2pin: drivers/bad/locked.c: cannot read (EACCES)\n' });
    });

    it('a directory it may not read: cannot read directory (EACCES)', (ctx) => {
      const root = tree({ 'drivers/locked/bad.c': SOURCE });
      const options = asUnprivileged(root);
      if (typeof options === 'string') return ctx.skip(options);
      chmodSync(join(root, 'drivers', 'locked'), 0o000);
      const r = gup2pin(['diff', '-q', '--target', '6.5', 'drivers'], root, options);
      chmodSync(join(root, 'drivers', 'locked'), 0o755);
      expect(r).toEqual({ code: 2, stdout: goodDiff, stderr: 'gup2pin: drivers/locked: cannot read directory (EACCES)\n' });
    });

    it('a binary file that calls the API: binary file (NUL bytes): skipped; one that does not stays silent', () => {
      const root = tree({
        'drivers/bad/blob.c': withBytes(Buffer.from([0, 1, 2])),
        // The name, but no call of it: never a candidate.
        'drivers/bad/other.h': Buffer.from('\x7fELF\0\0get_user_pages\0'),
      });
      expect(diff(root, 'drivers')).toEqual({ code: 2, stdout: goodDiff, stderr: 'gup2pin: drivers/bad/blob.c: binary file (NUL bytes): skipped\n' });
    });

    it('bytes that are not UTF-8: not valid UTF-8: skipped, and apply leaves them byte for byte', () => {
      // Latin-1 "café" in a comment: decoding and writing back would turn the é into U+FFFD.
      const latin1 = withBytes(Buffer.from(eol('/* caf\xe9 */\n'), 'latin1'));
      const root = tree({ 'drivers/bad/latin1.c': latin1 });
      expect(diff(root, 'drivers')).toEqual({ code: 2, stdout: goodDiff, stderr: 'gup2pin: drivers/bad/latin1.c: not valid UTF-8: skipped\n' });
      const r = gup2pin(['apply', '-q', '--target', '6.5', 'drivers'], root);
      expect(r).toEqual({ code: 2, stdout: '', stderr: 'gup2pin: drivers/bad/latin1.c: not valid UTF-8: skipped\n' });
      expect(readFileSync(join(root, 'drivers', 'bad', 'latin1.c'))).toEqual(latin1);
      expect(readFileSync(join(root, 'drivers', 'good', 'good.c'), 'utf8')).toBe(CONVERTED);
    });

    it('a candidate over the size limit: larger than 8 MiB: skipped; a big file without the API stays silent', () => {
      const padding = eol(`/*${'x'.repeat(9 << 20)}*/\n`);
      const root = tree({
        'drivers/bad/huge.c': Buffer.concat([SOURCE, Buffer.from(padding)]),
        'drivers/bad/regs.h': eol(`#define FOO_REG 0x10\n${padding}`),
      });
      expect(diff(root, 'drivers')).toEqual({ code: 2, stdout: goodDiff, stderr: 'gup2pin: drivers/bad/huge.c: larger than 8 MiB: skipped\n' });
    });

    it('a path that does not exist: no such file or directory, shown as given', () => {
      const root = tree();
      expect(diff(root, 'nope', 'drivers', join(root, 'gone.c'))).toEqual({
        code: 2,
        stdout: goodDiff,
        stderr: `gup2pin: nope: no such file or directory\ngup2pin: ${join(root, 'gone.c')}: no such file or directory\n`,
      });
    });

    it('a path that is neither a file nor a directory: skipped', () => {
      expect(diff(tree(), '/dev/null', 'drivers')).toEqual({ code: 2, stdout: goodDiff, stderr: 'gup2pin: /dev/null: not a regular file or directory: skipped\n' });
    });

    it('symlinks out of the tree (to a file or a directory) are not followed; a dangling one is named', () => {
      const outside = scratchDir();
      writeFileSync(join(outside, 'outside.c'), SOURCE);
      const root = tree();
      mkdirSync(join(root, 'drivers', 'bad'));
      symlinkSync(join(outside, 'outside.c'), join(root, 'drivers', 'bad', 'outside.c'));
      symlinkSync('nothing.c', join(root, 'drivers', 'bad', 'gone.c'));
      symlinkSync(outside, join(root, 'drivers', 'ext'));
      expect(diff(root, 'drivers')).toEqual({
        code: 2,
        stdout: goodDiff,
        stderr:
          'gup2pin: drivers/bad/gone.c: dangling symlink\n' +
          'gup2pin: drivers/bad/outside.c: symlink leaves the tree: not followed\n' +
          'gup2pin: drivers/ext: symlink leaves the tree: not followed\n',
      });
      // Named on the command line, the same file is converted: the user asked for it.
      expect(diff(root, 'drivers/bad/outside.c').stdout).toContain(eol('+\tret = pin_user_pages_fast(vaddr, npages, gup_flags, pages);\n'));
    });
  });

  describe('inputs that are fine: converted, no message, exit 0/1 as usual', () => {
    it('a UTF-8 BOM: converted, the BOM kept byte for byte', () => {
      const bom = Buffer.from([0xef, 0xbb, 0xbf]);
      const root = tree({ 'drivers/bom/bom.c': Buffer.concat([bom, SOURCE]) });
      expect(parseC(`\ufeff${SOURCE.toString('utf8').replaceAll('\r\n', '\n')}`).hasError).toBe(false);
      expect(gup2pin(['apply', '-q', '--target', '6.5', 'drivers'], root)).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(readFileSync(join(root, 'drivers', 'bom', 'bom.c'))).toEqual(Buffer.concat([bom, Buffer.from(CONVERTED)]));
      expect(readFileSync(join(root, 'drivers', 'good', 'good.c'), 'utf8')).toBe(CONVERTED);
    });

    it('an empty file, in a directory or named: nothing to say, nothing skipped', () => {
      const root = tree({ 'drivers/empty/empty.c': '' });
      expect(diff(root, 'drivers')).toEqual({ code: 1, stdout: goodDiff, stderr: '' });
      expect(diff(root, 'drivers/empty/empty.c')).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(gup2pin(['scan', '--target', '6.5', 'drivers/empty/empty.c'], root)).toEqual({ code: 0, stdout: '0 converted, 0 refused, 0 already pinned, 0 files (target 6.5)\n', stderr: '' });
    });

    it('a single file as PATH: diff and apply convert it', () => {
      const root = tree();
      expect(diff(root, 'drivers/good/good.c')).toEqual({ code: 1, stdout: goodDiff, stderr: '' });
      expect(gup2pin(['apply', '--target', '6.5', '-q', 'drivers/good/good.c'], root)).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(readFileSync(join(root, 'drivers', 'good', 'good.c'), 'utf8')).toBe(CONVERTED);
    });

    it('symlinks inside the tree: a file is converted once, at its own path; a directory is not descended', () => {
      const root = tree({ 'drivers/..dots.c': SOURCE });
      symlinkSync('good.c', join(root, 'drivers', 'good', 'link.c'));
      // Resolves to `..dots.c` at the top of the tree: inside it, whatever the name starts with.
      symlinkSync('../..dots.c', join(root, 'drivers', 'good', 'dots-link.c'));
      symlinkSync('good', join(root, 'drivers', 'alias'));
      expect(gup2pin(['scan', '--target', '6.5', 'drivers'], root)).toEqual({
        code: 0,
        stdout: `${goodScan('drivers/..dots.c')}\n${goodScan('drivers/good/good.c')}\n2 converted, 0 refused, 0 already pinned, 2 files (target 6.5)\n`,
        stderr: '',
      });
      expect(gup2pin(['apply', '-q', '--target', '6.5', 'drivers'], root)).toEqual({ code: 0, stdout: '', stderr: '' });
      // apply replaced the files, not the links.
      expect(lstatSync(join(root, 'drivers', 'good', 'link.c')).isSymbolicLink()).toBe(true);
      expect(readFileSync(join(root, 'drivers', 'good', 'link.c'), 'utf8')).toBe(CONVERTED);
      expect(readFileSync(join(root, 'drivers', '..dots.c'), 'utf8')).toBe(CONVERTED);
    });
  });

  it.each(['diff', 'apply', 'scan', 'verify'])('%s exits 2 when a file was skipped, and still does the others', (command) => {
    const root = tree({ 'drivers/bad/blob.c': withBytes(Buffer.from([0])) });
    const r = gup2pin([command, '-q', '--target', '6.5', 'drivers'], root);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('gup2pin: drivers/bad/blob.c: binary file (NUL bytes): skipped\n');
    if (command === 'apply') expect(readFileSync(join(root, 'drivers', 'good', 'good.c'), 'utf8')).toBe(CONVERTED);
    else if (command === 'diff') expect(r.stdout).toBe(goodDiff);
    else expect(r.stdout).toMatch(/^drivers\/good\/good\.c:71: /);
  });

  /** A driver function whose get_user_pages_fast() and put_page() convert when nothing is in the way. */
  const SITE = eol([
    '#include <linux/mm.h>',
    '',
    'int foo_touch(unsigned long uaddr, bool write)',
    '{',
    '\tstruct page *page;',
    '\tint ret;',
    '',
    '\tret = get_user_pages_fast(uaddr, 1, FOLL_WRITE, &page);',
    '\tif (ret != 1)',
    '\t\treturn ret < 0 ? ret : -EFAULT;',
    '\tif (write)',
    '\t\tset_page_dirty_lock(page);',
    '\tput_page(page);',
    '\treturn 0;',
    '}',
    '',
  ].join('\n'));

  /** SITE with one piece of code replaced, which must be there. */
  function siteWith(from: string, to: string): string {
    expect(SITE).toContain(eol(from));
    return SITE.replace(eol(from), eol(to));
  }

  describe('code tree-sitter cannot parse around a site: refused with parse-error, never edited', () => {
    const UNPARSED = {
      // (a) An ERROR node inside the function holding the site: a stray token.
      'error-node.c': siteWith('\tint ret;\n', '\tint ret;\n\tunsigned long n = uaddr @ PAGE_SHIFT;\n'),
      // (b) #ifdef splitting a statement around the release: `if` and its body on both sides of #endif.
      'ifdef-if.c': siteWith('\tif (write)\n', '#ifdef CONFIG_FOO_DIRTY\n\tif (write)\n#endif\n'),
      // (b) … splitting the release call itself: the release is lost, the refusal still says why.
      'ifdef-put.c': siteWith('\tput_page(page);\n', '\tput_page(page\n#ifdef CONFIG_FOO\n\t\t + 0\n#endif\n\t\t );\n'),
      // (b) … splitting the acquire call: no acquire is seen, and the calls are named instead.
      'ifdef-gup.c': siteWith('1, FOLL_WRITE, &page);\n', '1,\n#ifdef CONFIG_FOO\n\t\t\t\t  FOLL_WRITE | FOLL_LONGTERM,\n#else\n\t\t\t\t  FOLL_WRITE,\n#endif\n\t\t\t\t  &page);\n'),
      // (c) A macro tree-sitter cannot see through: scoped_guard() followed by its block.
      'macro-guard.c': siteWith('\tif (write)\n\t\tset_page_dirty_lock(page);\n\tput_page(page);\n', '\tscoped_guard(mutex, &foo_lock) {\n\t\tif (write)\n\t\t\tset_page_dirty_lock(page);\n\t\tput_page(page);\n\t}\n'),
      // (c) … or a macro after the acquire call.
      'macro-after.c': siteWith('&page);\n', '&page) FOO_CHECKED;\n'),
      // A function swallowed by an ERROR (an unclosed initializer before it): no site at all.
      'swallowed.c': siteWith('#include <linux/mm.h>\n', '#include <linux/mm.h>\n\nstatic const int foo_sizes[] = { 1, 2, 4,\n'),
      // An unclosed `{` in an earlier function: tree-sitter nests foo_touch() in it, clean itself.
      'unclosed-brace.c': siteWith('#include <linux/mm.h>\n', '#include <linux/mm.h>\n\nstatic int foo_bar(int x)\n{\n\tif (x) {\n\treturn 1;\n}\n'),
    };
    // (+1 more): the release's own parse-error.
    const refused = (file: string, line: number) =>
      `drivers/parse/${file}:${line}: refused parse-error: could not parse foo_touch() cleanly around this site (+1 more)`;
    let root: string;
    beforeAll(() => {
      root = tree(Object.fromEntries(Object.entries(UNPARSED).map(([name, text]) => [`drivers/parse/${name}`, text])));
    });

    it('scan refuses each site with parse-error and the reason', () => {
      const r = gup2pin(['scan', '--target', '6.5', 'drivers'], root);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n').filter(Boolean);
      // One group per site: unclosed-brace.c's site belongs to the function nested in the broken one.
      expect(lines.pop()).toBe('1 converted, 9 refused, 0 already pinned, 9 files (target 6.5)');
      expect(lines).toEqual([
        goodScan('drivers/good/good.c'),
        refused('error-node.c', 9),
        // No pin group: the calls in the code that did not parse are named, one by one.
        'drivers/parse/ifdef-gup.c:8: refused parse-error: get_user_pages_fast() is in code tree-sitter could not parse: left alone',
        'drivers/parse/ifdef-gup.c:19: refused parse-error: put_page() is in code tree-sitter could not parse: where its pages come from is unknown, left alone',
        refused('ifdef-if.c', 8),
        refused('ifdef-put.c', 8),
        refused('macro-after.c', 8),
        refused('macro-guard.c', 8),
        'drivers/parse/swallowed.c:10: refused parse-error: get_user_pages_fast() is in code tree-sitter could not parse: left alone',
        refused('unclosed-brace.c', 14),
      ]);
    });

    it('diff changes none of them', () => {
      expect(diff(root, 'drivers')).toEqual({ code: 1, stdout: goodDiff, stderr: '' });
    });

    it('the same sites convert when the code parses', () => {
      const clean = tree({ 'drivers/parse/clean.c': SITE });
      expect(diff(clean, 'drivers/parse').stdout).toContain(eol('+\tunpin_user_pages_dirty_lock(&page, 1, write);\n'));
    });
  });
});

it('a CRLF file beside LF files (once skipped): converted in the same run, each keeping its endings, nothing said', () => {
  const lf = read('hfi1', 'before.c');
  const crlf = (text: string) => text.replaceAll('\n', '\r\n');
  const root = scratchDir();
  mkdirSync(join(root, 'drivers', 'mixed'), { recursive: true });
  writeFileSync(join(root, 'drivers', 'mixed', 'unix.c'), lf);
  writeFileSync(join(root, 'drivers', 'mixed', 'dos.c'), crlf(lf));
  const r = gup2pin(['diff', '-q', '--target', '6.5', 'drivers'], root);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('');
  const [dos, unix] = r.stdout.split(/(?=^diff --git )/m);
  // The same hunks, each line of the file with its CR; the @@ function names without (as git).
  expect(dos).toBe(unix.replace(/^(?!--- |\+\+\+ )([-+ ].*)$/gm, '$1\r').replaceAll('unix.c', 'dos.c'));
  expect(gup2pin(['apply', '-q', '--target', '6.5', 'drivers'], root)).toEqual({ code: 0, stdout: '', stderr: '' });
  expect(readFileSync(join(root, 'drivers', 'mixed', 'dos.c'), 'utf8')).toBe(crlf(read('hfi1', 'after.6.5.c')));
  expect(readFileSync(join(root, 'drivers', 'mixed', 'unix.c'), 'utf8')).toBe(read('hfi1', 'after.6.5.c'));
});
