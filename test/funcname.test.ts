/**
 * How hunks name their function (src/emit/funcname.ts): git's default rule, or its `cpp` diff
 * driver's where the tree's .gitattributes ask for it, as the Linux tree's do for *.c and *.h.
 * The expected names are what git 2.39 prints for the same lines.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forgetAttributes, funcnameRule, functionLine } from '../src/emit/funcname.ts';
import { FIXTURES, committed, git, gup2pin, scratchDir } from './helpers.ts';

describe('function lines', () => {
  const cases: Array<[string, string | undefined, string | undefined]> = [
    // line, default rule, cpp rule
    ['static int alpha(int x)', 'static int alpha(int x)', 'static int alpha(int x)'],
    ['out:', 'out:', undefined],
    ['out_unpin:\r', 'out_unpin:', undefined],
    ['public:', 'public:', undefined],
    ['err: /* comment */', 'err: /* comment */', undefined],
    ['label2:  // c++ comment', 'label2:  // c++ comment', undefined],
    ['weird: x', 'weird: x', 'weird: x'],
    ['  indented_label:', undefined, undefined],
    ['::scoped(int x)', undefined, '::scoped(int x)'],
    ['$vms', '$vms', undefined],
    ['\tint y = x;', undefined, undefined],
    ['#define FOO 1', undefined, undefined],
    ['struct beta {  \r', 'struct beta {', 'struct beta {'],
  ];
  it.each(cases)('%j: default %j, cpp %j', (line, byDefault, byCpp) => {
    expect(functionLine(line, 'default')).toBe(byDefault);
    expect(functionLine(line, 'cpp')).toBe(byCpp);
  });

  it('keeps 80 bytes of a long line, as git does', () => {
    const long = `static long ${'x'.repeat(100)}(void)`;
    expect(functionLine(long, 'cpp')).toBe(long.slice(0, 80));
    // The default rule counts the newline in its 80 bytes; trailing blanks go after the cut.
    expect(functionLine(long, 'default')).toBe(long.slice(0, 80));
    expect(functionLine(`${'y'.repeat(78)}  z`, 'default')).toBe('y'.repeat(78));
  });
});

describe('the diff attribute', () => {
  const at = (files: Record<string, string>) => {
    const root = scratchDir('gup2pin-attrs-');
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    forgetAttributes();
    return root;
  };

  it('takes the Linux tree’s *.c diff=cpp, for files at any depth', () => {
    const root = at({ '.gitattributes': '*.c   diff=cpp\n*.h   diff=cpp\n*.dts  diff=dts\n' });
    expect(funcnameRule(root, 'drivers/gpu/drm/radeon/radeon_ttm.c')).toBe('cpp');
    expect(funcnameRule(root, 'include/linux/mm.h')).toBe('cpp');
    expect(funcnameRule(root, 'arch/arm/boot/dts/a.dts')).toBe('default');
    // A name that starts with two dots is inside the tree.
    expect(funcnameRule(root, '..a.c')).toBe('cpp');
  });

  it('lets a later line and a deeper file decide, and reads anchored and ** patterns below their directory', () => {
    const root = at({
      '.gitattributes': '# comment\n*.c diff=cpp\nlegacy/*.c -diff\n/top.c !diff\n',
      'drivers/.gitattributes': 'vendor/**/*.c diff=cpp\nold.c binary\n',
    });
    expect(funcnameRule(root, 'a.c')).toBe('cpp');
    expect(funcnameRule(root, 'legacy/a.c')).toBe('default');
    expect(funcnameRule(root, 'x/legacy/a.c')).toBe('cpp');
    expect(funcnameRule(root, 'top.c')).toBe('default');
    expect(funcnameRule(root, 'drivers/old.c')).toBe('default');
    expect(funcnameRule(root, 'drivers/x/old.c')).toBe('default');
    expect(funcnameRule(root, 'drivers/vendor/a/b/c.c')).toBe('cpp');
  });

  it('is the default rule without a .gitattributes', () => {
    expect(funcnameRule(at({ 'a.c': '' }), 'a.c')).toBe('default');
  });
});

describe('gup2pin diff in a tree whose .gitattributes say diff=cpp', () => {
  const NAMES = ['error-path', 'umem', 'hfi1', 'neg-alloc-bounce'];
  const tree = (attributes: boolean) => {
    const root = scratchDir('gup2pin-cpp-');
    for (const n of NAMES) {
      mkdirSync(join(root, 'drivers', n), { recursive: true });
      cpSync(join(FIXTURES, n, 'before.c'), join(root, 'drivers', n, `${n}.c`));
    }
    if (attributes) writeFileSync(join(root, '.gitattributes'), '*.c   diff=cpp\n*.h   diff=cpp\n');
    return root;
  };

  it('names each hunk as git diff does there: the function, not a goto label above the hunk', () => {
    const repo = tree(true);
    committed(repo);
    const out = gup2pin(['diff', '--target', '6.5', 'drivers'], repo);
    expect(out.code).toBe(1);
    expect(gup2pin(['apply', '-q', '--target', '6.5', 'drivers'], repo).code).toBe(0);
    expect(out.stdout).toBe(git(repo, 'diff', '--no-color').replace(/^index .*\n/gm, ''));
    // The same files without the attribute: git's default rule names a label there.
    const plain = gup2pin(['diff', '--target', '6.5', 'drivers'], tree(false)).stdout;
    expect(plain).toMatch(/^@@ [^@]+ @@ out_\w+:$/m);
    expect(out.stdout).not.toMatch(/^@@ [^@]+ @@ \w+:$/m);
    execFileSync('git', ['apply', '--check', '-'], { cwd: tree(true), input: out.stdout });
  });

  it('writes series patches whose diffs are git format-patch’s of the same commits there', () => {
    const repo = tree(true);
    committed(repo);
    const out = join(scratchDir('gup2pin-series-'), 'out');
    const from = ['--from', 'Jane Developer <jane@example.org>'];
    expect(gup2pin(['series', '--target', '6.5', ...from, '-o', out, 'drivers'], repo).code).toBe(0);
    const patches = readdirSync(out).filter((n) => !n.startsWith('0000-')).sort();
    git(repo, 'am', '-q', ...patches.map((n) => join(out, n)));
    const theirs = join(scratchDir('gup2pin-fp-'), 'out');
    git(repo, 'format-patch', '-q', '-o', theirs, `HEAD~${patches.length}`);
    // From the `---` before the diffstat to the signature: diffstat and diffs.
    const diffs = (text: string) => text.slice(text.indexOf('\n---\n'), text.lastIndexOf('\n-- \n'));
    expect(readdirSync(theirs).sort()).toEqual(patches);
    for (const n of patches) expect(diffs(readFileSync(join(out, n), 'utf8')), n).toBe(diffs(readFileSync(join(theirs, n), 'utf8')));
    // error-path's release hunk lies below its `out_free_mr:` label.
    expect(patches.map((n) => readFileSync(join(out, n), 'utf8')).join('')).toContain('\n@@ -81,13 +80,7 @@ struct xmr *xmr_register(unsigned long user_addr, u64 len, u32 flags)\n');
  });
});
