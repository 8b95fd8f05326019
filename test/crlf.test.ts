/**
 * CRLF sources (vendor kernel trees committed from Windows): every fixture's CRLF twin, made here
 * at run time, converts to the CRLF twin of its expected output byte for byte, with the verdicts
 * of the LF original; a file with mixed endings keeps each line's; the diff is what git prints
 * (git apply and patch -p1 take it) and a series patch what git format-patch makes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { normalise, restore } from '../src/parse/endings.ts';
import { applyEdits } from '../src/plan/plan.ts';
import { reportLines } from '../src/emit/report.ts';
import { run, type FileResult } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { LINKED, linkedFixtureNames, treeFiles } from './support.ts';
import { TARGETS, fixtureNames, git, gup2pin, read, scratchDir } from './helpers.ts';

const crlf = (text: string) => text.replaceAll('\n', '\r\n');

/** `files` (relative path → text) written under a new scratch directory. */
function writeTree(files: Map<string, string>): string {
  const dir = scratchDir('gup2pin-crlf-');
  for (const [rel, text] of files) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

/** What the run reports of a file, its texts and absolute path aside: verdicts, diagnostics, simulator results. */
const verdicts = (f: FileResult) => {
  const { path: _path, original: _original, output: _output, ...report } = f;
  return { ...report, verification: [...report.verification] };
};

/** The tree `dir` as gup2pin would leave it, and what the run said of each file. */
async function converted(dir: string, target: string) {
  const result = await run([dir], apiFor(parseVersion(target)), dir);
  const files = treeFiles(dir);
  for (const f of result.files) files.set(relative(dir, f.path), f.output);
  return { files, reports: result.files.map(verdicts), problems: result.problems, lines: result.files.flatMap((f) => reportLines(f)) };
}

/** `files` with every text in CRLF. */
const crlfTree = (files: Map<string, string>) => new Map([...files].map(([rel, text]) => [rel, crlf(text)]));

describe.each(fixtureNames())('CRLF twin of fixture %s', (name) => {
  const before = new Map([['before.c', read(name, 'before.c')]]);
  it.each(TARGETS)('converts to the CRLF twin of after.%s.c, with the verdicts of the LF original', async (target) => {
    const lf = await converted(writeTree(before), target);
    const dos = await converted(writeTree(crlfTree(before)), target);
    expect(dos.problems).toEqual([]);
    expect(dos.files.get('before.c')).toBe(crlf(read(name, `after.${target}.c`)));
    expect(lf.files.get('before.c')).toBe(read(name, `after.${target}.c`));
    expect(dos.reports).toEqual(lf.reports);
  });
  it.each(TARGETS)('is idempotent on %s (converting the CRLF twin of the output changes nothing)', async (target) => {
    const after = crlf(read(name, `after.${target}.c`));
    expect((await converted(writeTree(new Map([['before.c', after]])), target)).files.get('before.c')).toBe(after);
  });
});

describe.each(linkedFixtureNames())('CRLF twin of linked fixture %s', (name) => {
  const before = treeFiles(join(LINKED, name, 'before'));
  it.each(TARGETS)('converts to the CRLF twin of after.%s/, with the verdicts of the LF original', async (target) => {
    const lf = await converted(writeTree(before), target);
    const dos = await converted(writeTree(crlfTree(before)), target);
    expect(dos.problems).toEqual([]);
    expect(Object.fromEntries(dos.files)).toEqual(Object.fromEntries(crlfTree(treeFiles(join(LINKED, name, `after.${target}`)))));
    expect(dos.reports).toEqual(lf.reports);
    expect(dos.lines).toEqual(lf.lines);
  });

  it('converts with only some of its files CRLF (each file keeps its endings)', async () => {
    const mixed = new Map([...before].map(([rel, text], i) => [rel, i % 2 ? crlf(text) : text]));
    const dos = await converted(writeTree(mixed), '6.5');
    const after = treeFiles(join(LINKED, name, 'after.6.5'));
    expect(Object.fromEntries(dos.files)).toEqual(Object.fromEntries([...after].map(([rel, text], i) => [rel, i % 2 ? crlf(text) : text])));
  });
});

describe('line endings restored after the edits (src/parse/endings.ts)', () => {
  /** The raw bytes after `edits`, given on the normalised text. */
  const edited = (raw: string, edits: Array<{ start: number; end: number; text: string }>) => {
    const n = normalise(raw);
    return restore(n, edits, applyEdits(n.text, edits));
  };
  // Normalised: "a;\nb;\nc;" (offsets 0..7), the first newline a CRLF, the second LF.
  const RAW = 'a;\r\nb;\nc;';

  it('reads CRLF as LF, a lone CR as text, and remembers where the CRLFs were', () => {
    expect(normalise(RAW)).toEqual({ raw: RAW, text: 'a;\nb;\nc;', crlf: [2] });
    expect(normalise('x\ry\r\r\nz\r')).toEqual({ raw: 'x\ry\r\r\nz\r', text: 'x\ry\r\nz\r', crlf: [4] });
    const lf = 'a;\nb;\n';
    expect(normalise(lf)).toEqual({ raw: lf, text: lf, crlf: [] });
  });

  it('an LF file gets the converted text as it is', () => {
    expect(edited('a;\nb;\n', [{ start: 0, end: 1, text: 'x' }])).toBe('x;\nb;\n');
  });

  it('lines inserted before a line end like it; after a line, like that line', () => {
    expect(edited(RAW, [{ start: 3, end: 3, text: 'x;\ny;\n' }])).toBe('a;\r\nx;\ny;\nb;\nc;');
    expect(edited(RAW, [{ start: 0, end: 0, text: 'x;\n' }])).toBe('x;\r\na;\r\nb;\nc;');
    expect(edited(RAW, [{ start: 2, end: 2, text: '\nx;' }])).toBe('a;\r\nx;\r\nb;\nc;');
  });

  it('a line added after a last line without a newline ends like the line before it, and the file still ends without one', () => {
    expect(edited(RAW, [{ start: 8, end: 8, text: '\nx;' }])).toBe('a;\r\nb;\nc;\nx;');
    expect(edited('a;\r\nb;', [{ start: 5, end: 5, text: '\nx;' }])).toBe('a;\r\nb;\r\nx;');
    expect(edited('a;', [{ start: 2, end: 2, text: '\nx;' }])).toBe('a;\nx;');
  });

  it('a replacement gives its k-th line the ending of the k-th line it replaces, extra lines the last one', () => {
    expect(edited(RAW, [{ start: 0, end: 5, text: 'p;\nq;\nr;' }])).toBe('p;\r\nq;\r\nr;\nc;');
    expect(edited(RAW, [{ start: 0, end: 6, text: 'p;\nq;\n' }])).toBe('p;\r\nq;\nc;');
    expect(edited(RAW, [{ start: 0, end: 6, text: 'p;\n' }])).toBe('p;\r\nc;');
  });

  it('removing lines removes their endings, untouched bytes (lone CRs too) stay', () => {
    expect(edited(RAW, [{ start: 0, end: 3, text: '' }])).toBe('b;\nc;');
    expect(edited('x\r/* y */\r\nz;\n', [{ start: 2, end: 9, text: '/* w */' }])).toBe('x\r/* w */\r\nz;\n');
  });

  it('throws rather than give bytes that do not read back as the planned text', () => {
    // An LF line end inserted just after a lone CR would make it a CRLF: the file is left alone.
    expect(() => edited('y\r\nx\na\r', [{ start: 6, end: 6, text: '\nb' }])).toThrow('the line endings could not be restored exactly');
  });
});

/** `¶` before a newline: the line ends in CRLF. `«CR»`: a lone CR in the text. No newline at the very end. */
const marked = (text: string) => text.replace(/¶\n/g, '\r\n').replaceAll('«CR»', '\r').replace(/\n$/, '');

/** Lines taken from the error-path fixture, their endings mixed. */
const MIXED = marked(`#include <linux/mm.h>¶
#include <linux/slab.h>

/* a vendor note with a lone CR:«CR»here */¶
struct xmr_table {
	struct page	**pages;¶
	int		npages;
	int		max_pages;¶
	__le64		entry[];
};¶
¶
int xmr_map_table(struct xmr_table *tbl, unsigned long start, int want)
{¶
	struct page **arr;
	int i, ret;¶

	arr = kcalloc(want, sizeof(*arr), GFP_KERNEL);¶
	if (!arr)
		return -ENOMEM;¶
	ret = get_user_pages(start, want, FOLL_WRITE, arr, NULL);¶
	if (ret < want) {
		for (i = 0; i < ret; i++)
			put_page(arr[i]);¶
		kfree(arr);
		return ret < 0 ? ret : -EFAULT;¶
	}
	for (i = 0; i < want; i++)¶
		tbl->entry[i] = cpu_to_le64(page_to_phys(arr[i]));
	tbl->pages = arr;¶
	tbl->npages = want;
	return 0;¶
}

void xmr_unmap_table(struct xmr_table *tbl)¶
{
	int i;¶

	if (!tbl->pages)¶
		return;
¶
	for (i = 0; i < tbl->npages; i++) {
		set_page_dirty_lock(tbl->pages[i]);¶
		put_page(tbl->pages[i]);
	}¶
	kfree(tbl->pages);
}
`);

/**
 * Its conversion: the rewritten call keeps its line's CRLF; the loop's two lines become two lines
 * ending like them (LF, then CRLF); the loop released as one call ends like the loop's last line,
 * its `}` (CRLF); the removed declaration takes its CRLF and the blank line's LF with it.
 */
const MIXED_CONVERTED = marked(`#include <linux/mm.h>¶
#include <linux/slab.h>

/* a vendor note with a lone CR:«CR»here */¶
struct xmr_table {
	struct page	**pages;¶
	int		npages;
	int		max_pages;¶
	__le64		entry[];
};¶
¶
int xmr_map_table(struct xmr_table *tbl, unsigned long start, int want)
{¶
	struct page **arr;
	int i, ret;¶

	arr = kcalloc(want, sizeof(*arr), GFP_KERNEL);¶
	if (!arr)
		return -ENOMEM;¶
	ret = pin_user_pages(start, want, FOLL_WRITE, arr);¶
	if (ret < want) {
		if (ret > 0)
			unpin_user_pages(arr, ret);¶
		kfree(arr);
		return ret < 0 ? ret : -EFAULT;¶
	}
	for (i = 0; i < want; i++)¶
		tbl->entry[i] = cpu_to_le64(page_to_phys(arr[i]));
	tbl->pages = arr;¶
	tbl->npages = want;
	return 0;¶
}

void xmr_unmap_table(struct xmr_table *tbl)¶
{
	if (!tbl->pages)¶
		return;
¶
	unpin_user_pages_dirty_lock(tbl->pages, tbl->npages, true);¶
	kfree(tbl->pages);
}
`);

describe('a file with mixed line endings', () => {
  it('keeps each line its ending; written lines take the ending of the lines they replace', async () => {
    const { files } = await converted(writeTree(new Map([['xmr.c', MIXED]])), '6.5');
    expect(files.get('xmr.c')).toBe(MIXED_CONVERTED);
  });

  it('has the verdicts of its LF twin', async () => {
    const lf = await converted(writeTree(new Map([['xmr.c', MIXED.replaceAll('\r\n', '\n')]])), '6.5');
    const mixed = await converted(writeTree(new Map([['xmr.c', MIXED]])), '6.5');
    expect(mixed.lines).toEqual(lf.lines);
    expect(mixed.reports).toEqual(lf.reports);
  });
});

/** Fixtures laid out as drivers (as test/cli.test.ts does), every file CRLF, plus the mixed file. */
const DRIVERS = ['hfi1', 'qib', 'umem', 'usnic', 'vfio', 'neg-alloc-bounce', 'neg-mixed-helper'];
const driverTree = () =>
  new Map([...DRIVERS.map((n): [string, string] => [`drivers/${n}/${n}.c`, crlf(read(n, 'before.c'))]), ['drivers/xmr/xmr.c', MIXED]]);
const convertedDrivers = () =>
  new Map([...DRIVERS.map((n): [string, string] => [`drivers/${n}/${n}.c`, crlf(read(n, 'after.6.5.c'))]), ['drivers/xmr/xmr.c', MIXED_CONVERTED]]);

/** A git checkout of `files`, committed as they are (core.autocrlf=false: git keeps the CRs). */
function checkout(files: Map<string, string>): string {
  const dir = writeTree(files);
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'core.autocrlf', 'false');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'base');
  return dir;
}

describe('gup2pin diff and apply in a CRLF git checkout', () => {
  const base = driverTree();
  let out: ReturnType<typeof gup2pin>;
  beforeAll(() => {
    out = gup2pin(['diff', '-q', '--target', '6.5', 'drivers'], checkout(base));
  });

  it('prints a diff whose lines carry their CR, for 7 changed files', () => {
    expect(out.code).toBe(1);
    expect(out.stderr).toBe('');
    expect(out.stdout.match(/^diff --git /gm)).toHaveLength(7);
    expect(out.stdout).toContain('\n-\tret = get_user_pages(start, want, FOLL_WRITE, arr, NULL);\r\n+\tret = pin_user_pages(start, want, FOLL_WRITE, arr);\r\n');
  });

  it('git apply takes it, giving what gup2pin apply writes', () => {
    const other = checkout(base);
    git(other, 'apply', '--check', join(scratchOf(out.stdout), 'conversion.patch'));
    git(other, 'apply', join(scratchOf(out.stdout), 'conversion.patch'));
    expect(Object.fromEntries(treeFiles(join(other, 'drivers')))).toEqual(applied());
  });

  it('patch -p1 takes it, giving what gup2pin apply writes', () => {
    const other = writeTree(base);
    execFileSync('patch', ['-p1', '-s'], { cwd: other, input: out.stdout });
    expect(Object.fromEntries(treeFiles(join(other, 'drivers')))).toEqual(applied());
  });

  it('is what git diff prints after gup2pin apply, byte for byte (function names in the @@ lines without CR)', () => {
    const other = checkout(base);
    expect(gup2pin(['apply', '-q', '--target', '6.5', 'drivers'], other)).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(out.stdout).toBe(git(other, 'diff', '--no-color').replace(/^index .*\n/gm, ''));
    expect(out.stdout).toContain('@@ -68,7 +68,7 @@ int hfi1_acquire_user_pages(struct mm_struct *mm, unsigned long vaddr,\n');
  });

  /** The tree as `gup2pin apply` leaves it, relative to drivers/. */
  function applied(): Record<string, string> {
    const other = writeTree(base);
    expect(gup2pin(['apply', '-q', '--target', '6.5', 'drivers'], other).code).toBe(0);
    const files = Object.fromEntries(treeFiles(join(other, 'drivers')));
    expect(files).toEqual(Object.fromEntries([...convertedDrivers()].map(([rel, text]) => [rel.slice('drivers/'.length), text])));
    return files;
  }
});

/** `text` in conversion.patch in a new scratch directory. */
function scratchOf(text: string): string {
  const dir = scratchDir('gup2pin-patch-');
  writeFileSync(join(dir, 'conversion.patch'), text);
  return dir;
}

describe('gup2pin series on CRLF files', () => {
  const FROM = 'Jane Developer <jane@example.org>';
  const MAINTAINERS = 'INFINIBAND SUBSYSTEM\nM:\tIb Maintainer <ib@example.org>\nL:\tlinux-rdma@example.org\nS:\tSupported\nF:\tdrivers/infiniband/\n';
  const base = new Map([
    ['MAINTAINERS', MAINTAINERS],
    ['drivers/infiniband/core/umem.c', crlf(read('umem', 'before.c'))],
    ['drivers/infiniband/hw/qib/qib_user_pages.c', crlf(read('qib', 'before.c'))],
  ]);

  it('writes the patch git format-patch makes of the same commit, which git am --keep-cr applies as gup2pin apply writes', () => {
    const repo = checkout(base);
    const out = scratchDir('gup2pin-series-');
    const r = gup2pin(['series', '-q', '--target', '6.5', '-o', out, '--from', FROM, 'drivers'], repo);
    expect(r.code).toBe(0);
    const names = readdirSync(out).sort();
    expect(names).toEqual(['0000-cover-letter.patch', '0001-infiniband-convert-get_user_pages-pin_user_pages.patch']);
    const ours = readFileSync(join(out, names[1]), 'utf8');

    // git am takes a CRLF patch with --keep-cr only (without, it strips the CRs and fails), as for any.
    const am = join(scratchDir('gup2pin-am-'), 'clone');
    git(dirname(am), 'clone', '-q', repo, am);
    git(am, 'config', 'core.autocrlf', 'false');
    git(am, 'am', '-q', '--keep-cr', join(out, names[1]));
    const applied = checkout(base);
    expect(gup2pin(['apply', '-q', '--target', '6.5', 'drivers'], applied).code).toBe(0);
    expect(Object.fromEntries(treeFiles(join(am, 'drivers')))).toEqual(Object.fromEntries(treeFiles(join(applied, 'drivers'))));
    expect(readFileSync(join(am, 'drivers/infiniband/core/umem.c'), 'utf8')).toBe(crlf(read('umem', 'after.6.5.c')));

    // The commit git am made, formatted by git: the same message, diffstat and diff (index line,
    // hunks, CRs), up to the signature, which names gup2pin rather than git's version.
    const theirs = git(am, '-c', 'user.name=Jane Developer', '-c', 'user.email=jane@example.org', 'format-patch', '-1', '--stdout');
    const body = (mail: string) => mail.slice(mail.indexOf('\n\n'), mail.lastIndexOf('\n-- \n'));
    expect(body(ours)).toContain('\n-\t\t\tset_page_dirty_lock(page);\r\n');
    expect(body(ours)).toBe(body(theirs));
  });
});

describe('the simulator on CRLF trees: the verdicts of the LF originals', () => {
  const lfTree = new Map(DRIVERS.map((n): [string, string] => [`drivers/${n}/${n}.c`, read(n, 'before.c')]));
  let lf: string;
  let dos: string;
  beforeAll(() => {
    lf = writeTree(lfTree);
    dos = writeTree(crlfTree(lfTree));
  });
  const both = (args: string[]) => [gup2pin(args, lf), gup2pin(args, dos)];

  it('scan --json', () => {
    const [a, b] = both(['scan', '--json', '--target', '6.5', 'drivers']);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout).files.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
  });

  it('verify --explain', () => {
    const [a, b] = both(['verify', '-q', '--explain', '--target', '6.5', 'drivers']);
    expect(a.stdout).toMatch(/equivalent/);
    expect(b).toEqual(a);
  });

  it('verify --patch, with the patch gup2pin diff printed for each tree', () => {
    const [a, b] = [lf, dos].map((dir) => {
      const patch = join(scratchOf(gup2pin(['diff', '-q', '--target', '6.5', 'drivers'], dir).stdout), 'conversion.patch');
      return gup2pin(['verify', '-q', '--target', '6.5', '--patch', patch], dir);
    });
    expect(a.stdout).toMatch(/equivalent/);
    expect(b).toEqual(a);
  });
});
