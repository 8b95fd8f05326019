/**
 * The command line end to end, as a kernel developer runs it: real processes, real files,
 * real `git apply` and `patch -p1`.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, committed, fixtureNames, git, gup2pin, read, scratchDir } from './helpers.ts';

/** A scratch tree with some fixtures laid out like driver directories. */
function tree(names: string[], file = 'before.c'): string {
  const root = scratchDir();
  for (const n of names) {
    mkdirSync(join(root, 'drivers', n), { recursive: true });
    cpSync(join(FIXTURES, n, file), join(root, 'drivers', n, `${n}.c`));
  }
  return root;
}

const DRIVERS = ['hfi1', 'qib', 'umem', 'usnic', 'vfio', 'neg-alloc-bounce', 'neg-mixed-helper'];

describe('gup2pin diff', () => {
  let root: string;
  let out: ReturnType<typeof gup2pin>;
  beforeAll(() => {
    root = tree(DRIVERS);
    out = gup2pin(['diff', '--target', '6.5', 'drivers'], root);
  });

  it('exits 1 when it printed a diff, with a/ b/ paths relative to the current directory', () => {
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('diff --git a/drivers/hfi1/hfi1.c b/drivers/hfi1/hfi1.c\n--- a/drivers/hfi1/hfi1.c\n+++ b/drivers/hfi1/hfi1.c\n');
    expect(out.stdout).not.toContain('neg-mixed-helper');
    expect(out.stderr).toMatch(/^6 converted, 2 refused, 0 already pinned, 6 files changed, 1 unchanged, 0 with nothing to convert, 0 errors, \d+\.\d\d s\n$/);
  });

  it('produces a patch git apply accepts, giving the expected files', () => {
    execFileSync('git', ['init', '-q'], { cwd: root });
    execFileSync('git', ['apply', '--check', '-'], { cwd: root, input: out.stdout });
    execFileSync('git', ['apply', '-'], { cwd: root, input: out.stdout });
    for (const n of DRIVERS) expect(readFileSync(join(root, 'drivers', n, `${n}.c`), 'utf8')).toBe(read(n, 'after.6.5.c'));
  });

  it('prints the hunks git diff shows after apply, function names in the @@ lines included', () => {
    const repo = tree(DRIVERS);
    committed(repo);
    expect(gup2pin(['apply', '-q', '--target', '6.5', 'drivers'], repo).code).toBe(0);
    const gitDiff = git(repo, 'diff', '--no-color').replace(/^index .*\n/gm, '');
    expect(out.stdout).toBe(gitDiff);
    expect(out.stdout).toContain('@@ -68,7 +68,7 @@ int hfi1_acquire_user_pages(struct mm_struct *mm, unsigned long vaddr,\n');
  });

  it('produces a patch patch -p1 accepts', () => {
    const other = tree(DRIVERS);
    execFileSync('patch', ['-p1', '-s'], { cwd: other, input: out.stdout });
    expect(readFileSync(join(other, 'drivers', 'vfio', 'vfio.c'), 'utf8')).toBe(read('vfio', 'after.6.5.c'));
  });

  it('exits 0 and prints nothing when there is nothing to convert', () => {
    const done = tree(['hfi1', 'vfio'], 'after.6.5.c');
    const r = gup2pin(['diff', '--target', '6.5', '.'], done);
    expect(r).toMatchObject({ code: 0, stdout: '' });
  });

  it('--root makes paths relative to another directory', () => {
    const fresh = tree(['neg-alloc-bounce']);
    const r = gup2pin(['diff', '--target', '6.5', '--root', join(fresh, 'drivers'), join(fresh, 'drivers', 'neg-alloc-bounce')], tmpdir());
    expect(r.stdout).toContain('--- a/neg-alloc-bounce/neg-alloc-bounce.c\n');
  });
});

describe('gup2pin apply', () => {
  it('converts in place, keeps the file mode, and a second run changes nothing', () => {
    const root = tree(DRIVERS);
    const file = join(root, 'drivers', 'qib', 'qib.c');
    chmodSync(file, 0o640);
    const first = gup2pin(['apply', '--target', '5.4', 'drivers'], root);
    expect(first.code).toBe(0);
    expect(first.stdout.split('\n').filter(Boolean)).toEqual([
      'converted drivers/hfi1/hfi1.c',
      'converted drivers/neg-alloc-bounce/neg-alloc-bounce.c',
      'converted drivers/qib/qib.c',
      'converted drivers/umem/umem.c',
      'converted drivers/usnic/usnic.c',
    ]);
    expect(readFileSync(file, 'utf8')).toBe(read('qib', 'after.5.4.c'));
    expect(statSync(file).mode & 0o777).toBe(0o640);
    const snapshot = DRIVERS.map((n) => readFileSync(join(root, 'drivers', n, `${n}.c`), 'utf8'));
    expect(first.stderr).toMatch(/^5 converted, 3 refused, 0 already pinned, 5 written, 2 unchanged, 0 with nothing to convert, 0 errors, \d+\.\d\d s\n$/);
    const second = gup2pin(['apply', '--target', '5.4', 'drivers'], root);
    expect(second.stdout).toBe('');
    expect(second.stderr).toMatch(/^0 converted, 3 refused, 5 already pinned, 0 written, 7 unchanged, 0 with nothing to convert, 0 errors, \d+\.\d\d s\n$/);
    expect(DRIVERS.map((n) => readFileSync(join(root, 'drivers', n, `${n}.c`), 'utf8'))).toEqual(snapshot);
  });

  it('analyses again only what can still convert: on 6.5 the converted drivers are on the pin API', () => {
    const root = tree(DRIVERS);
    expect(gup2pin(['apply', '--target', '6.5', 'drivers'], root).code).toBe(0);
    const second = gup2pin(['apply', '--target', '6.5', 'drivers'], root);
    expect(second.stdout).toBe('');
    // Only neg-alloc-bounce and neg-mixed-helper still call get_user_pages*(); scan reports on all.
    expect(second.stderr).toMatch(/^0 converted, 1 refused, 1 already pinned, 0 written, 2 unchanged, 5 with nothing to convert, 0 errors, \d+\.\d\d s\n$/);
    expect(gup2pin(['scan', '--target', '6.5', 'drivers'], root).stdout.split('\n').at(-2)).toBe('0 converted, 2 refused, 6 already pinned, 7 files (target 6.5)');
  });
});

describe('gup2pin scan', () => {
  it('prints one coccicheck-style line per pin group and a summary', () => {
    const root = tree(['vfio', 'neg-spinlock']);
    const r = gup2pin(['scan', '--target', '6.5', 'drivers'], root);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'drivers/neg-spinlock/neg-spinlock.c:50: refused atomic-context: ucx_put_pages() releases under a spinlock: the dirtying unpin would take the page lock and may sleep\n' +
        'drivers/vfio/vfio.c:76: converted acquire+page-pair: get_user_pages_remote() with 1 release at line 58; intended: SetPageDirty → mapping-aware dirtying under the page lock, already-dirty pages skipped\n' +
        '1 converted, 1 refused, 0 already pinned, 2 files (target 6.5)\n',
    );
  });

  it('--json carries acquires, releases, verdicts, codes and the target API', () => {
    const root = tree(['qib', 'neg-bound']);
    const json = JSON.parse(gup2pin(['scan', '--json', '--target', '5.6', 'drivers'], root).stdout);
    expect(json.target).toMatchObject({ version: '5.6', family: 'pin', takesVmas: true, remoteTakesTask: true });
    const [bound, qib] = json.files;
    expect(bound.groups[0]).toMatchObject({ verdict: 'refused', diagnostics: [{ code: 'bound', line: 82 }] });
    expect(qib.groups[0]).toMatchObject({
      verdict: 'converted',
      acquires: [{ line: 71, function: 'qib_get_user_pages', call: 'get_user_pages' }],
      releases: [{ line: 41, function: '__qib_release_user_pages', call: 'put_page', transform: 'whole-loop' }],
    });
    expect(json.summary).toEqual({ converted: 1, refused: 1, alreadyPinned: 0, files: 2 });
  });

  it('--json lists the calls of functions defined elsewhere that are handed the pages (escapes)', () => {
    const root = tree(['free-page-error-path']);
    const [file] = JSON.parse(gup2pin(['scan', '--json', '--target', '6.5', 'drivers'], root).stdout).files;
    expect(file.groups[0].escapes).toEqual([
      { line: 56, function: 'ofl_dma_map', call: 'dma_map_page' },
      { line: 65, function: 'ofl_dma_map', call: 'dma_map_page' },
    ]);
    expect(file.groups[0].releases.map((r: { line: number; call: string; transform: string }) => [r.line, r.call, r.transform])).toEqual([
      [59, '__free_page', 'page-pair'],
      [73, '__free_page', 'page-pair'],
      [78, 'put_page', 'whole-loop'],
      [94, 'put_page', 'whole-loop'],
    ]);
  });
});

describe('core kernel policy (H9)', () => {
  it('leaves mm/, kernel/, fs/ users on FOLL_GET unless --core', () => {
    const root = scratchDir();
    mkdirSync(join(root, 'kernel', 'futex'), { recursive: true });
    cpSync(join(FIXTURES, 'plain-loop', 'before.c'), join(root, 'kernel', 'futex', 'core.c'));
    expect(gup2pin(['scan', '--target', '6.5', '.'], root).stdout).toBe(
      'kernel/futex/core.c:87: refused core-kernel: core kernel users were left on FOLL_GET upstream (pin_user_pages.rst cases 3–4): pass --core to convert\n' +
        '0 converted, 1 refused, 0 already pinned, 1 file (target 6.5)\n',
    );
    expect(gup2pin(['scan', '--core', '--target', '6.5', '.'], root).stdout).toContain('kernel/futex/core.c:87: converted acquire+whole-loop');
  });
});

describe('targets and errors', () => {
  it('reads the target from the kernel Makefile above the paths', () => {
    const root = tree(['hfi1']);
    writeFileSync(join(root, 'Makefile'), 'VERSION = 5\nPATCHLEVEL = 4\nSUBLEVEL = 0\n');
    writeFileSync(join(root, 'Kconfig'), '');
    const r = gup2pin(['scan', 'drivers'], root);
    expect(r.stdout).toContain('(target 5.4)');
    expect(gup2pin(['diff', 'drivers/hfi1'], join(root)).stdout).toContain('+\tput_user_pages_dirty_lock(p, npages, dirty);');
  });

  it('defaults to 6.5 outside a kernel tree', () => {
    expect(gup2pin(['scan', 'drivers'], tree(['hfi1'])).stdout).toContain('(target 6.5)');
  });

  it('refuses a target older than 5.3 with a reason', () => {
    const r = gup2pin(['diff', '--target', '5.2', '.'], tree(['hfi1']));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('gup2pin: target 5.2 is older than 5.3: kernels before 5.3 have no put_user_page*() or pin_user_pages*() API to convert to\n');
  });

  it('names a missing path, still processes the others, and exits 2', () => {
    const root = tree(['hfi1']);
    const r = gup2pin(['diff', '--target', '6.5', 'nope', 'drivers'], root);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('gup2pin: nope: no such file or directory\n');
    expect(r.stdout).toContain('diff --git a/drivers/hfi1/hfi1.c');
  });

  it('shows help', () => {
    const r = gup2pin(['--help'], tmpdir());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('gup2pin diff <paths..>');
  });

  // Runs no longer render the help text after the command (skipHelpCache); --help still does.
  it("shows a command's help in full", () => {
    const r = gup2pin(['verify', '--help'], tmpdir());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^gup2pin verify \[paths\.\.\]\n\nsimulate before and after of every conversion;/);
    expect(r.stdout).toMatch(/\n +--explain +tell the writeback-during-DMA story for each group, before vs\n +after +\[boolean\] \[default: false\]\n/);
  });
});

describe('worker threads (--jobs)', () => {
  /** Every fixture, laid out as a tree, among enough other C files that threads are used. */
  function bigTree(): string {
    const root = tree(fixtureNames());
    mkdirSync(join(root, 'drivers', 'other'));
    for (let i = 0; i < 2000; i++) writeFileSync(join(root, 'drivers', 'other', `f${i}.c`), `int f${i}(void)\n{\n\treturn ${i};\n}\n`);
    return root;
  }
  const timings = (stderr: string) => /timings \(ms, summed over (\d+) threads?\)/.exec(stderr)?.[1];

  it('prints byte-identical output whatever the number of threads', { timeout: 240_000 }, () => {
    const root = bigTree();
    for (const command of [['diff'], ['scan', '--json'], ['verify']]) {
      const one = gup2pin([...command, '--target', '6.5', '--jobs', '1', '--timings', 'drivers'], root);
      const three = gup2pin([...command, '--target', '6.5', '--jobs', '3', '--timings', 'drivers'], root);
      expect(three.stdout).toBe(one.stdout);
      expect(three.code).toBe(one.code);
      expect(three.stdout.length).toBeGreaterThan(1000);
      if (command[0] !== 'verify') expect([timings(one.stderr), timings(three.stderr)]).toEqual(['1', '3']);
    }
  });

  it('does the work in one thread when the run is too small to pay for more', () => {
    const r = gup2pin(['scan', '--target', '6.5', '--jobs', '3', '--timings', 'drivers'], tree(['hfi1', 'vfio']));
    expect(timings(r.stderr)).toBe('1');
  });

  it('refuses a --jobs that is not a whole number of threads', () => {
    const r = gup2pin(['scan', '--jobs', '0', 'drivers'], tree(['hfi1']));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('gup2pin: --jobs takes a whole number of threads, at least 1 (got 0)\n');
  });
});

describe('gup2pin verify', () => {
  it('prints a verdict per pin group of the conversions and exits 0 when all are equivalent or intended', () => {
    const root = tree(['umem', 'vfio']);
    const out = gup2pin(['verify', '--target', '6.5', 'drivers'], root);
    expect(out.code).toBe(0);
    expect(out.stdout.split('\n').filter(Boolean)).toEqual([
      'drivers/umem/umem.c:140: equivalent with intended differences: get_user_pages() with 1 release, 51 scenarios; pages already dirty are not dirtied again',
      '    coverage: 6/6 edited statements ran (before 4/4, after 2/2); run on past a short pin 4, a return of 0 (impossible), -errno 5',
      'drivers/vfio/vfio.c:76: equivalent with intended differences: get_user_pages_remote() with 1 release, 62 scenarios; SetPageDirty() → mapping-aware dirtying (set_page_dirty semantics, under the page lock); pages already dirty are not dirtied again',
      // vfio pins one page at a time: never short, never 0.
      '    coverage: 6/6 edited statements ran (before 4/4, after 2/2); run on past a short pin (impossible), a return of 0 (impossible), -errno 3',
    ]);
    expect(out.stderr).toMatch(/^0 equivalent, 2 equivalent with intended differences, 0 not equivalent, 0 unverifiable \(113 scenarios\), 2 files, \d+ ms\n$/);
  });

  it('--explain tells the writeback-during-DMA story before and after', () => {
    const root = tree(['umem']);
    const out = gup2pin(['verify', '--explain', '--target', '6.5', 'drivers'], root);
    expect(out.stdout).toContain('writeback cleans P0 and drops its buffers; page_maybe_dma_pinned(P0) = false\n');
    expect(out.stdout).toContain('writeback cleans P0 and drops its buffers; page_maybe_dma_pinned(P0) = true\n');
    expect(out.stdout).toContain('set_page_dirty_lock(P0): the file page has no buffers any more (ext4 warns, data may be lost)\n');
  });

  it('--before/--after reviews a hand-written conversion and catches a lost dirty flag', () => {
    const root = scratchDir();
    writeFileSync(join(root, 'old.c'), read('qib', 'before.c'));
    writeFileSync(join(root, 'good.c'), read('qib', 'after.6.5.c'));
    writeFileSync(join(root, 'bad.c'), read('qib', 'after.6.5.c').replace('unpin_user_pages_dirty_lock(p, num_pages, dirty)', 'unpin_user_pages(p, num_pages)'));
    const good = gup2pin(['verify', '--target', '6.5', '--before', 'old.c', '--after', 'good.c'], root);
    expect(good.code).toBe(0);
    const bad = gup2pin(['verify', '--target', '6.5', '--before', 'old.c', '--after', 'bad.c'], root);
    expect(bad.code).toBe(1);
    expect(bad.stdout.split('\n')[0]).toMatch(/^bad\.c:71: NOT EQUIVALENT dirty: get_user_pages\(\) with 1 release: P\d ends clean after but dirty before$/);
    expect(bad.stdout).toContain('    scenario: qib_get_user_pages() then qib_release_user_pages(): 1 page, get_user_pages() gets every page');
  });

  /**
   * A git tree of one fixture's before.c and a patch (`name.patch`, not applied) that edits it with
   * `edit`: what a maintainer gets on the list.
   */
  function patchOf(fixture: string, edit: (text: string) => string) {
    const root = tree([fixture]);
    const file = join(root, 'drivers', fixture, `${fixture}.c`);
    committed(root);
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, edit(original));
    writeFileSync(join(root, `${fixture}.patch`), git(root, 'diff'));
    git(root, 'checkout', '-q', '.');
    return { root, file, original, patch: `${fixture}.patch` };
  }

  it('--patch checks a mailing-list patch against the tree without touching it', () => {
    // A conversion that forgets the acquire: the release now unpins FOLL_GET pages.
    const { root, file, original, patch } = patchOf('single-page', (t) => t.replaceAll('put_page(', 'unpin_user_page('));
    const out = gup2pin(['verify', '--target', '6.5', '--patch', patch, '--root', '.'], root);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/^drivers\/single-page\/single-page\.c:\d+: NOT EQUIVALENT unpin-not-pinned: get_user_pages_fast\(\) with 3 releases: unpin_user_page\(P0\) on a page that holds a reference, not a pin/);
    expect(readFileSync(file, 'utf8')).toBe(original);
  });

  it('--patch catches a __free_page() left on a pinned page (the bcm_vk_sg.c shape)', () => {
    // The acquire and the put_page() loops converted; the error paths' __free_page() forgotten.
    const { root, patch } = patchOf('free-page-error-path', (t) => t.replace('get_user_pages_fast(', 'pin_user_pages_fast(').replaceAll('put_page(', 'unpin_user_page('));
    const out = gup2pin(['verify', '--target', '6.5', '--patch', patch, '--root', '.'], root);
    expect(out.code).toBe(1);
    expect(out.stdout.split('\n')[0]).toMatch(
      /^drivers\/free-page-error-path\/free-page-error-path\.c:\d+: NOT EQUIVALENT put-on-pinned: get_user_pages_fast\(\) with \d+ releases: __free_page\(P\d\) on a page pinned with FOLL_PIN: the pin is never released$/,
    );
    expect(out.stdout).toContain('!! __free_page(P0) on a page pinned with FOLL_PIN: the pin is never released');
  });
});

describe('paths relative to the top of the tree, wherever the user stands', () => {
  /** A kernel-like tree: a top-level Makefile with its version, a Kbuild, two drivers. */
  function kernelTree(): string {
    const root = tree(['umem', 'vfio']);
    writeFileSync(join(root, 'Makefile'), 'VERSION = 6\nPATCHLEVEL = 5\nSUBLEVEL = 0\n');
    writeFileSync(join(root, 'Kbuild'), '');
    // A subdirectory with a Makefile and a Kbuild of its own is no tree top (arch/x86 has both).
    writeFileSync(join(root, 'drivers', 'Makefile'), 'obj-y += umem/ vfio/\n');
    writeFileSync(join(root, 'drivers', 'Kbuild'), '');
    return root;
  }

  it('diff from a subdirectory of a git checkout prints paths git apply takes at the top', () => {
    const root = kernelTree();
    committed(root);
    const out = gup2pin(['diff', 'umem', '../drivers/vfio'], join(root, 'drivers'));
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('diff --git a/drivers/umem/umem.c b/drivers/umem/umem.c\n');
    expect(out.stdout).toContain('--- a/drivers/vfio/vfio.c\n');
    writeFileSync(join(root, 'conversion.patch'), out.stdout);
    git(root, 'apply', '--check', 'conversion.patch');
    git(root, 'apply', 'conversion.patch');
    expect(readFileSync(join(root, 'drivers', 'umem', 'umem.c'), 'utf8')).toBe(read('umem', 'after.6.5.c'));
  });

  it('scan finds the top of a kernel tree that is no git checkout by its Makefile and Kbuild; --root overrides', () => {
    const root = kernelTree();
    const here = join(root, 'drivers', 'umem');
    expect(gup2pin(['scan', 'umem.c'], here).stdout.split('\n')[0]).toMatch(/^drivers\/umem\/umem\.c:140: converted /);
    expect(gup2pin(['scan', '--root', '.', 'umem.c'], here).stdout.split('\n')[0]).toMatch(/^umem\.c:140: converted /);
  });

  it('outside any tree, paths stay relative to the current directory', () => {
    const root = tree(['umem']);
    expect(gup2pin(['scan', '--target', '6.5', 'umem'], join(root, 'drivers')).stdout.split('\n')[0]).toMatch(/^umem\/umem\.c:140: converted /);
  });
});

describe('a kernel tree inside a larger git checkout (a vendor BSP repository)', () => {
  /** A repository whose kernel lies in vendor/kernel, with the umem fixture as a driver. */
  function monorepo(): { top: string; kernel: string } {
    const top = realpathSync(scratchDir('gup2pin-bsp-'));
    const kernel = join(top, 'vendor', 'kernel');
    mkdirSync(join(kernel, 'drivers', 'umem'), { recursive: true });
    writeFileSync(join(kernel, 'Makefile'), 'VERSION = 6\nPATCHLEVEL = 5\nSUBLEVEL = 0\n');
    writeFileSync(join(kernel, 'Kbuild'), '');
    cpSync(join(FIXTURES, 'umem', 'before.c'), join(kernel, 'drivers', 'umem', 'umem.c'));
    committed(top);
    return { top, kernel };
  }
  const HINT = (top: string, tool: string) => `gup2pin: the paths are relative to the kernel tree vendor/kernel/ of the git checkout ${top}: ${tool} them with --directory=vendor/kernel\n`;

  it('prints upstream paths, and says how git apply takes them: plain git apply would skip them', () => {
    const { top, kernel } = monorepo();
    const out = gup2pin(['diff', 'drivers'], kernel);
    expect(out.code).toBe(1);
    expect(out.stdout.split('\n')[0]).toBe('diff --git a/drivers/umem/umem.c b/drivers/umem/umem.c');
    expect(out.stderr.startsWith(HINT(top, 'git apply'))).toBe(true);
    // What git does without the option: it skips the patch and says nothing is wrong.
    expect(execFileSync('git', ['apply', '-v', '-'], { cwd: kernel, input: out.stdout, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })).toBe('');
    expect(readFileSync(join(kernel, 'drivers', 'umem', 'umem.c'), 'utf8')).toBe(read('umem', 'before.c'));
    execFileSync('git', ['apply', '--directory=vendor/kernel', '-'], { cwd: top, input: out.stdout });
    expect(readFileSync(join(kernel, 'drivers', 'umem', 'umem.c'), 'utf8')).toBe(read('umem', 'after.6.5.c'));
  });

  it('says the same of a series, which git am then takes', () => {
    const { top, kernel } = monorepo();
    const dir = join(scratchDir('gup2pin-bsp-out-'), 'out');
    const r = gup2pin(['series', '--from', 'Jane Developer <jane@example.org>', '--no-cover-letter', '-o', dir, 'drivers'], kernel);
    expect(r.code).toBe(0);
    expect(r.stderr.startsWith(HINT(top, 'git am'))).toBe(true);
    git(top, 'am', '-q', '--directory=vendor/kernel', ...readdirSync(dir).map((n) => join(dir, n)));
    expect(readFileSync(join(kernel, 'drivers', 'umem', 'umem.c'), 'utf8')).toBe(read('umem', 'after.6.5.c'));
  });

  it('says nothing with --root, or when the kernel tree is the checkout', () => {
    const { kernel } = monorepo();
    expect(gup2pin(['diff', '--root', '.', 'drivers'], kernel).stderr).toMatch(/^1 converted, /);
    git(kernel, 'init', '-q');
    expect(gup2pin(['diff', 'drivers'], kernel).stderr).toMatch(/^1 converted, /);
  });
});
