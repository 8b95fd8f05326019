/** Exact outputs of the series building blocks: MAINTAINERS matching, addresses, git's formats. */
import { describe, expect, it } from 'vitest';
import { diffstat } from '../src/series/diffstat.ts';
import { fileDiff, fromHeader, patchFileName, renderPatch, rfc2822Date, slug, subjectHeader, subjectTag } from '../src/series/format-patch.ts';
import { MissingIdentityError, parseIdentity, resolveIdentity } from '../src/series/identity.ts';
import { filePatternMatches, globToPattern, parseMaintainers, primarySection, sectionsForFile } from '../src/series/maintainers.ts';
import { body, callChange, summary } from '../src/series/message.ts';
import { perlToJs } from '../src/series/perl-regex.ts';
import { prefixFromHistory, prefixFromPath, prefixFromSection, subjectPrefix } from '../src/series/prefix.ts';
import { addRecipients, recipientsForFiles, recipientsForPatch, unionRecipients } from '../src/series/recipients.ts';
import { fill, gitWrap } from '../src/series/wrap.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { fileReport } from '../src/emit/report.ts';
import { processText } from '../src/run.ts';
import { convertedFile, convertedFileFromReport } from '../src/series/converted.ts';
import { coverBlurb } from '../src/series/cover.ts';
import { GIT_ENV, git, read, scratchDir } from './helpers.ts';

const DIRS = new Set(['drivers/net', 'drivers/net/ethernet', 'drivers/infiniband', 'drivers/infiniband/hw/hfi1']);
const isDirectory = (p: string) => DIRS.has(p);

const MAINTAINERS = `List of maintainers
===================

	F: drivers/net/	(an example in the introduction, not a section)

NET DRIVERS
M:	Net Maintainer <net@example.org>
L:	netdev@example.org
S:	Maintained
F:	drivers/net
X:	drivers/net/wireless/

ETHERNET GLUE
M:	Glue Person <glue@example.org>
R:	"Rev. Iewer" <rev@example.org>
S:	Maintained
F:	drivers/net/ethernet/*.c

TEGRA ALL OVER
M:	Tegra Person <tegra@example.org>
R:	Net Maintainer <net-other@example.org>
L:	linux-tegra@example.org (moderated for non-subscribers)
L:	secret@example.org (subscribers-only)
S:	Supported
N:	[^a-z]tegra

INFINIBAND SUBSYSTEM
M:	Ib Person <ib@example.org>
M:	Glue Person <glue@other.example.org>
L:	NETDEV@example.org
S:	Supported
F:	drivers/infiniband
K:	\\bib_umem_\\w+
K:	(?i)pinned

HFI1 DRIVER
M:	Hfi Person <hfi@example.org>
R:	Ib Person <ib@example.org>
S:	Supported
F:	drivers/infiniband/hw/hfi1
F:	drivers/infiniband/hw/hfi1/*.c

SINGLE FILE
M:	Old Name <old@example.org>
S:	Maintained
F:	drivers/infiniband/core/umem.c

THE REST
M:	Linus Torvalds <torvalds@linux-foundation.org>
L:	linux-kernel@example.org
S:	Buried alive in reporters
F:	*
F:	*/
`;

const MAILMAP = 'New Name <new@example.org> <old@example.org>\n';
const maintainers = parseMaintainers(MAINTAINERS, { isDirectory, mailmap: MAILMAP });
const names = (file: string) => sectionsForFile(maintainers, file).map((m) => `${m.section.name}:${m.depth}`);

describe('MAINTAINERS patterns', () => {
  it('turns F:/X: globs into get_maintainer.pl regexes, a directory gaining its slash', () => {
    expect(globToPattern('drivers/net', isDirectory)).toBe('drivers/net/');
    expect(globToPattern('drivers/net/ethernet/*.c', isDirectory)).toBe('drivers/net/ethernet/.*\\.c');
    expect(globToPattern('drivers/a?c.h', isDirectory)).toBe('drivers/a.c\\.h');
    expect(globToPattern('drivers/foo', isDirectory)).toBe('drivers/foo');
  });

  it('matches a directory pattern below it, a file or glob pattern only at its own depth', () => {
    expect(filePatternMatches('drivers/net/ethernet/x/y.c', 'drivers/net/')).toBe(true);
    expect(filePatternMatches('drivers/net/ethernet/a.c', 'drivers/net/ethernet/.*\\.c')).toBe(true);
    expect(filePatternMatches('drivers/net/ethernet/sub/a.c', 'drivers/net/ethernet/.*\\.c')).toBe(false);
    // Not a directory: a prefix at the same depth still matches, as in get_maintainer.pl.
    expect(filePatternMatches('drivers/foo.c', 'drivers/foo')).toBe(true);
    expect(filePatternMatches('drivers/foo/a.c', 'drivers/foo')).toBe(false);
  });

  it('keeps every matching section, most specific first; X: excludes, N: matches the path at depth 0', () => {
    expect(names('drivers/net/ethernet/e.c')).toEqual(['ETHERNET GLUE:4', 'NET DRIVERS:2', 'THE REST:-1']);
    expect(names('drivers/net/wireless/w.c')).toEqual(['THE REST:-1']);
    expect(names('drivers/net/ethernet/nvidia-tegra.c')).toEqual(['ETHERNET GLUE:4', 'NET DRIVERS:2', 'TEGRA ALL OVER:0', 'THE REST:-1']);
    expect(names('drivers/infiniband/core/umem.c')).toEqual(['SINGLE FILE:4', 'INFINIBAND SUBSYSTEM:2', 'THE REST:-1']);
  });

  it('takes the depth of the last matching F: of a section, like get_maintainer.pl', () => {
    expect(names('drivers/infiniband/hw/hfi1/user_pages.c')).toEqual(['HFI1 DRIVER:5', 'INFINIBAND SUBSYSTEM:2', 'THE REST:-1']);
    expect(names('drivers/infiniband/hw/hfi1/sub/x.h')).toEqual(['HFI1 DRIVER:4', 'INFINIBAND SUBSYSTEM:2', 'THE REST:-1']);
  });

  it('groups by the most specific section that is not a catch-all', () => {
    expect(primarySection(maintainers, 'drivers/net/ethernet/e.c')?.name).toBe('ETHERNET GLUE');
    expect(primarySection(maintainers, 'drivers/net/wireless/w.c')).toBeUndefined();
  });

  it('translates Perl /x, (?i) and (?i:…) into JavaScript', () => {
    expect(perlToJs('(?i)pin')).toBe('[pP][iI][nN]');
    expect(perlToJs('\\b(?i:rust)\\b')).toBe('\\b(?:[rR][uU][sS][tT])\\b');
    expect(perlToJs('a b # comment')).toBe('ab');
    expect(perlToJs('[a-c ]x')).toBe('[a-c ]x');
    expect(new RegExp(perlToJs('(?i)[a-c]x')).test('BX')).toBe(true);
  });
});

describe('To/Cc', () => {
  it('To = maintainers, Cc = reviewers and lists; names, addresses and lists de-duplicated, mailmapped, Linus left out', () => {
    // hfi1: HFI1 DRIVER, INFINIBAND SUBSYSTEM, THE REST. Ib Person is R: in HFI1 but M: in
    // INFINIBAND: a maintainer. "Glue Person" at another address is the same name: dropped.
    expect(recipientsForFiles(maintainers, ['drivers/infiniband/hw/hfi1/user_pages.c'])).toEqual({
      to: ['Hfi Person <hfi@example.org>', 'Ib Person <ib@example.org>', 'Glue Person <glue@other.example.org>'],
      cc: ['NETDEV@example.org', 'linux-kernel@example.org'],
    });
    expect(recipientsForFiles(maintainers, ['drivers/infiniband/core/umem.c', 'drivers/net/ethernet/nvidia-tegra.c'])).toEqual({
      to: ['New Name <new@example.org>', 'Ib Person <ib@example.org>', 'Glue Person <glue@other.example.org>', 'Net Maintainer <net@example.org>', 'Tegra Person <tegra@example.org>'],
      // Reviewers before lists, as get_maintainer.pl prints them.
      cc: ['"Rev. Iewer" <rev@example.org>', 'NETDEV@example.org', 'linux-kernel@example.org', 'linux-tegra@example.org'],
    });
  });

  it('reads files and K: keywords out of the patch: the whole intro, then only +/- lines', () => {
    const patch = (intro: string, line: string) =>
      `Subject: [PATCH] x\n\n${intro}\n---\ndiff --git a/drivers/net/wireless/w.c b/drivers/net/wireless/w.c\n--- a/drivers/net/wireless/w.c\n+++ b/drivers/net/wireless/w.c\n@@ -1,2 +1,2 @@\n${line}\n`;
    const rest = { to: [], cc: ['linux-kernel@example.org'] };
    const ib = { to: ['Ib Person <ib@example.org>', 'Glue Person <glue@other.example.org>'], cc: ['NETDEV@example.org', 'linux-kernel@example.org'] };
    expect(recipientsForPatch(maintainers, patch('Nothing to see.', ' context ib_umem_get()\n-a\n+b'))).toEqual(rest);
    expect(recipientsForPatch(maintainers, patch('Nothing to see.', '-ib_umem_get()\n+b'))).toEqual({ to: ib.to, cc: ['linux-kernel@example.org', 'NETDEV@example.org'] });
    expect(recipientsForPatch(maintainers, patch('These pages are PINNED.', ' a\n-b\n+c'))).toEqual({ to: ib.to, cc: ['linux-kernel@example.org', 'NETDEV@example.org'] });
  });

  it('drops an L: that is not an address (get_maintainer.pl prints it as an empty line)', () => {
    const m = parseMaintainers('ODD\nM:\tA <a@example.org>\nL:\tMali DP Maintainers <malidp@example.org>\nF:\tdrivers/odd/\n', { isDirectory });
    expect(recipientsForFiles(m, ['drivers/odd/x.c'])).toEqual({ to: ['A <a@example.org>'], cc: [] });
  });

  it('adds --to/--cc without repeating an address, and unites the patches for the cover letter', () => {
    const base = { to: ['A <a@example.org>'], cc: ['l@example.org'] };
    expect(addRecipients(base, ['Other Spelling <A@example.org>', 'B <b@example.org>'], ['l@example.org', 'c@example.org'])).toEqual({
      to: ['A <a@example.org>', 'B <b@example.org>'],
      cc: ['l@example.org', 'c@example.org'],
    });
    expect(unionRecipients([{ to: ['A'], cc: ['B', 'L'] }, { to: ['B'], cc: ['L', 'M'] }])).toEqual({ to: ['A', 'B'], cc: ['L', 'M'] });
  });
});

describe('git format-patch formats', () => {
  it('prints the diffstat exactly as git does, truncating long paths and scaling the graph', () => {
    expect(diffstat([{ path: 'drivers/a/x.c', added: 2, deleted: 1 }, { path: 'drivers/a/y.c', added: 1, deleted: 0 }])).toBe(
      ' drivers/a/x.c | 3 ++-\n drivers/a/y.c | 1 +\n 2 files changed, 3 insertions(+), 1 deletion(-)\n',
    );
    expect(diffstat([{ path: 'a.c', added: 0, deleted: 1 }])).toBe(' a.c | 1 -\n 1 file changed, 1 deletion(-)\n');
    // Checked against git 2.39 (format-patch of the same changes).
    expect(
      diffstat([
        { path: 'a.c', added: 0, deleted: 54 },
        { path: 'drivers/b.c', added: 111, deleted: 111 },
        { path: 'drivers/infiniband/hw/very_long_directory_name_here/sub/some_file_name_long.c', added: 56, deleted: 66 },
      ]),
    ).toBe(
      ' a.c                                           |  54 -----\n' +
        ' drivers/b.c                                   | 222 +++++++++---------\n' +
        ' .../sub/some_file_name_long.c                 | 122 +++++-----\n' +
        ' 3 files changed, 167 insertions(+), 231 deletions(-)\n',
    );
  });

  it('names files with git\'s slug rules, v2 prefix and 64-character limit', () => {
    expect(slug('a: second [tag] change with "quotes"')).toBe('a-second-tag-change-with-quotes');
    expect(slug('RDMA/umem: convert get_user_pages() --> pin_user_pages()')).toBe('RDMA-umem-convert-get_user_pages-pin_user_pages');
    expect(slug('x...y: fix.. ')).toBe('x.y-fix');
    expect(patchFileName(1, 'RDMA/umem: convert get_user_pages() --> pin_user_pages()')).toBe('0001-RDMA-umem-convert-get_user_pages-pin_user_pages.patch');
    expect(patchFileName(3, 'drivers/infiniband/hw/hfi1: convert get_user_pages_fast() --> pin_user_pages_fast()')).toBe(
      '0003-drivers-infiniband-hw-hfi1-convert-get_user_pages_fa.patch',
    );
    expect(patchFileName(12, 'IB/hfi1: convert x', 2)).toBe('v2-0012-IB-hfi1-convert-x.patch');
    expect(patchFileName(0, 'ignored', 2)).toBe('v2-0000-cover-letter.patch');
  });

  it('numbers subjects like format-patch', () => {
    expect(subjectTag('PATCH', undefined)).toBe('[PATCH]');
    expect(subjectTag('PATCH', 2, 1, 3)).toBe('[PATCH v2 1/3]');
    expect(subjectTag('RFC PATCH', undefined, 0, 12)).toBe('[RFC PATCH 00/12]');
  });

  it('folds and encodes headers like git', () => {
    const long = 'drivers/infiniband/hw/hfi1: convert get_user_pages_fast() --> pin_user_pages_fast() and more words here';
    expect(subjectHeader('[PATCH]', long)).toBe('Subject: [PATCH] drivers/infiniband/hw/hfi1: convert get_user_pages_fast() -->\n pin_user_pages_fast() and more words here');
    expect(subjectHeader('[RFC PATCH v3]', long)).toBe('Subject: [RFC PATCH v3] drivers/infiniband/hw/hfi1: convert\n get_user_pages_fast() --> pin_user_pages_fast() and more words here');
    expect(subjectHeader('[PATCH]', 'x: é test')).toBe('Subject: [PATCH] =?UTF-8?q?x:=20=C3=A9=20test?=');
    expect(fromHeader({ name: 'Jérôme X', email: 'j@x.org' })).toBe('From: =?UTF-8?q?J=C3=A9r=C3=B4me=20X?= <j@x.org>');
    expect(fromHeader({ name: 'J. Public, Jr', email: 'j@x.org' })).toBe('From: "J. Public, Jr" <j@x.org>');
    expect(gitWrap(long, 2, 4, 72)).toBe('  drivers/infiniband/hw/hfi1: convert get_user_pages_fast() -->\n    pin_user_pages_fast() and more words here');
  });

  it('writes RFC 2822 dates as git does (day not padded)', () => {
    expect(rfc2822Date(new Date(Date.UTC(2025, 0, 2, 3, 4, 5)), 0)).toBe('Thu, 2 Jan 2025 03:04:05 +0000');
    expect(rfc2822Date(new Date(Date.UTC(2025, 0, 2, 3, 4, 5)), -150)).toBe('Thu, 2 Jan 2025 00:34:05 -0230');
  });

  it('adds index lines with git blob ids and the function name to hunk headers', () => {
    const before = 'int f(void)\n{\n\treturn 1;\n}\n';
    const after = 'int f(void)\n{\n\treturn 2;\n}\n';
    const d = fileDiff({ path: 'a/b.c', before, after });
    // `printf 'int f(void)\n{\n\treturn 1;\n}\n' | git hash-object --stdin`
    expect(d.text.split('\n').slice(0, 5)).toEqual(['diff --git a/a/b.c b/a/b.c', 'index 06f5969..b93771e 100644', '--- a/a/b.c', '+++ b/a/b.c', '@@ -1,4 +1,4 @@']);
    const long = `${'\n'.repeat(5)}static int g(int x)\n{\n\tint y;\n\n\ty = x;\n\treturn y;\n}\n`;
    expect(fileDiff({ path: 'g.c', before: long, after: long.replace('y = x', 'y = -x') }).text.split('\n')[4]).toBe('@@ -7,6 +7,6 @@ static int g(int x)');
    expect(d.stat).toEqual({ path: 'a/b.c', added: 1, deleted: 1 });
  });

  it('places hunks like git: a removed loop and its counter form one block (outputs of git diff)', () => {
    const hunks = (before: string, after: string) => fileDiff({ path: 'f.c', before, after }).text.split('\n').slice(4).join('\n');
    const before = 'void f(void)\n{\n\tsize_t i;\n\n\tfor (i = 0; i < n; i++) {\n\t\tput_page(p[i]);\n\t}\n\n\tif (mm)\n\t\tx();\n}\n';
    const after = 'void f(void)\n{\n\tunpin_user_pages(p, n);\n\n\tif (mm)\n\t\tx();\n}\n';
    expect(hunks(before, after)).toBe(
      '@@ -1,10 +1,6 @@\n void f(void)\n {\n-\tsize_t i;\n-\n-\tfor (i = 0; i < n; i++) {\n-\t\tput_page(p[i]);\n-\t}\n+\tunpin_user_pages(p, n);\n \n \tif (mm)\n \t\tx();\n',
    );
    expect(hunks('a\nb', 'a\nc\n')).toBe('@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n');
    expect(hunks('', 'x\n')).toBe('@@ -0,0 +1 @@\n+x\n');
  });

  it('lays a patch out as format-patch does, with base-commit before the signature', () => {
    const d = fileDiff({ path: 'x.c', before: 'a\n', after: 'b\n' });
    const headers = {
      commitId: 'f'.repeat(40),
      messageId: 'id@x',
      inReplyTo: 'cover@x',
      from: { name: 'Dev', email: 'dev@x.org' },
      date: 'Thu, 2 Jan 2025 03:04:05 +0000',
      tag: '[PATCH 1/1]',
      subject: 'x: change',
      to: ['A <a@x.org>', 'B <b@x.org>'],
      cc: ['l@x.org'],
      eightBit: false,
    };
    expect(renderPatch(headers, 'Body.\n\nSigned-off-by: Dev <dev@x.org>\n', [d], 'gup2pin 0.1.0', 'e'.repeat(40))).toBe(
      `From ${'f'.repeat(40)} Mon Sep 17 00:00:00 2001\nMessage-Id: <id@x>\nIn-Reply-To: <cover@x>\nReferences: <cover@x>\n` +
        'From: Dev <dev@x.org>\nDate: Thu, 2 Jan 2025 03:04:05 +0000\nSubject: [PATCH 1/1] x: change\n' +
        'To: A <a@x.org>,\n    B <b@x.org>\nCc: l@x.org\n\nBody.\n\nSigned-off-by: Dev <dev@x.org>\n---\n' +
        ' x.c | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\n' +
        'diff --git a/x.c b/x.c\nindex 7898192..6178079 100644\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n' +
        `\nbase-commit: ${'e'.repeat(40)}\n-- \ngup2pin 0.1.0\n\n`,
    );
  });
});

describe('messages', () => {
  it('takes the most common tag of the history, cut back to tag-like parts', () => {
    expect(subjectPrefix('RDMA/umem: Fix error: foo')).toBe('RDMA/umem');
    expect(subjectPrefix('net: ethernet: mlx5: fix thing')).toBe('net: ethernet: mlx5');
    expect(subjectPrefix('Revert "RDMA/umem: x"')).toBeUndefined();
    expect(subjectPrefix('no prefix here')).toBeUndefined();
    expect(prefixFromHistory(['IB/hfi1: b', 'RDMA/hfi1: a', 'IB/hfi1: c', 'Merge branch x'])).toBe('IB/hfi1');
    expect(prefixFromHistory(['RDMA/hfi1: a', 'IB/hfi1: b'])).toBe('RDMA/hfi1');
    expect(prefixFromHistory([])).toBeUndefined();
  });

  it('falls back to the section name, then to the path', () => {
    const section = (name: string) => ({ name, order: 0, entries: [] });
    expect(prefixFromSection(section('KERNEL VIRTUAL MACHINE for s390 (KVM/s390)'), ['arch/s390/kvm/interrupt.c'])).toBe('KVM/s390');
    expect(prefixFromSection(section('VMWARE VMCI DRIVER'), ['drivers/misc/vmw_vmci/vmci_queue_pair.c'])).toBe('vmci');
    expect(prefixFromSection(section('CISCO VIC LOW LATENCY NIC DRIVER'), ['drivers/infiniband/hw/usnic/usnic_uiom.c'])).toBeUndefined();
    expect(prefixFromPath('drivers/misc/bcm-vk/bcm_vk_sg.c')).toBe('misc/bcm-vk');
    expect(prefixFromPath('arch/s390/kvm/interrupt.c')).toBe('s390/kvm');
  });

  it('names the calls a change removes and adds', () => {
    const before = 'ret = get_user_pages_fast(a, n, f, p);\nfor (i = 0; i < n; i++) {\n\tset_page_dirty_lock(p[i]);\n\tput_page(p[i]);\n}\n';
    const after = 'ret = pin_user_pages_fast(a, n, f, p);\nunpin_user_pages_dirty_lock(p, n, true);\n';
    const change = callChange([{ before, after }]);
    expect(change).toEqual({
      acquiresGone: ['get_user_pages_fast'],
      acquiresNew: ['pin_user_pages_fast'],
      releasesGone: ['put_page', 'set_page_dirty_lock'],
      releasesNew: ['unpin_user_pages_dirty_lock'],
    });
    expect(summary(change)).toBe('convert get_user_pages_fast() --> pin_user_pages_fast()');
    expect(summary(callChange([{ before: before + 'get_user_pages(x);\n', after: after + 'pin_user_pages(x);\n' }]))).toBe('convert get_user_pages*() --> pin_user_pages*()');
    // The interim API keeps the acquire: the summary names the releases.
    expect(summary(callChange([{ before, after: before.replace(/\tput_page\(p\[i\]\);\n/, '').replace('set_page_dirty_lock(p[i])', 'put_user_pages_dirty_lock(p, n, true)') }]))).toBe(
      'convert put_page() --> put_user_pages_dirty_lock()',
    );
  });

  it('wraps the body at 75 columns and names the target and the intended differences', () => {
    const change = { acquiresGone: ['get_user_pages_remote'], acquiresNew: ['pin_user_pages_remote'], releasesGone: ['SetPageDirty', 'put_page'], releasesNew: ['unpin_user_pages_dirty_lock'] };
    const text = body({ api: apiFor(parseVersion('6.5')), change, differences: ['SetPageDirty-to-mapping', 'already-dirty-skipped'] });
    expect(Math.max(...text.split('\n').map((l) => l.length))).toBeLessThanOrEqual(75);
    expect(text.split('\n\n')[0]).toBe(
      'Convert get_user_pages_remote() to pin_user_pages_remote(), and release the\npages with unpin_user_pages_dirty_lock() instead of SetPageDirty() and\nput_page().',
    );
    expect(text).toContain('API as of Linux 6.5.');
    expect(text.split('\n\n').at(-1)).toBe(
      'The conversion changes behaviour on purpose, as the page simulator of\ngup2pin reports for this patch:\n' +
        '- SetPageDirty() -> mapping-aware dirtying (set_page_dirty semantics, under\n  the page lock). SetPageDirty() only set the page flag; a file-backed page\n' +
        '  must be dirtied through its mapping, so that the file system knows about\n  the new data.\n' +
        '- pages already dirty are not dirtied again. Dirtying a page that is\n  already dirty does nothing useful; the release helper skips it.',
    );
    expect(fill('a '.repeat(40).trim(), 10)).toBe(Array(8).fill('a a a a a').join('\n'));
  });
});

describe('converted files', () => {
  it('records converted groups, the simulator\'s intended differences and the refusals', () => {
    const api = apiFor(parseVersion('6.5'));
    const vfio = read('vfio', 'before.c');
    const result = processText(vfio, api, { core: false }, { verify: true });
    const file = convertedFile('drivers/vfio/vfio_iommu_type1.c', vfio, result);
    expect(file).toMatchObject({
      path: 'drivers/vfio/vfio_iommu_type1.c',
      converted: [{ line: 76, acquires: ['get_user_pages_remote'] }],
      // What the simulator reported (the two its scan line names too).
      differences: ['SetPageDirty-to-mapping', 'already-dirty-skipped'],
      refused: [],
      unverified: [],
    });
    expect(file.after).toBe(result.plan.output);
    const ucx = read('neg-spinlock', 'before.c');
    expect(convertedFile('drivers/infiniband/hw/hfi1/ucx.c', ucx, processText(ucx, api)).refused).toEqual([
      { line: 50, code: 'atomic-context', message: 'ucx_put_pages() releases under a spinlock: the dirtying unpin would take the page lock and may sleep' },
    ]);
    // The worker pool's plain records (FileReport) give the same file.
    const report = fileReport('drivers/vfio/vfio_iommu_type1.c', result.plan, result.verification);
    expect(convertedFileFromReport({ original: vfio, output: result.plan.output, ...report })).toEqual(file);
  });

  it('lists unverified conversions and refusals in the cover letter, wrapped', () => {
    const file = {
      path: 'drivers/x/y.c',
      before: 'a',
      after: 'b',
      converted: [{ line: 3, acquires: ['get_user_pages'] }],
      differences: [],
      refused: [{ line: 9, code: 'escape', message: 'the pages are handed to bio_add_page(), which takes the reference over' }],
      unverified: [{ line: 3, reason: 'the simulator does not model iterator macro llist_for_each_entry_safe()' }],
    };
    const text = coverBlurb({ api: apiFor(parseVersion('6.1')), files: [file], split: 'section', verified: true });
    expect(text.split('\n\n').slice(1)).toEqual([
      'There is one patch per MAINTAINERS section; the patches do not depend on\neach other.',
      expect.stringMatching(/The conversions it could not\nmodel are listed below\.$/),
      'Converted, but the simulator could not model the code (please review these\nwith extra care):\n' +
        '  drivers/x/y.c:3: the simulator does not model iterator macro\n      llist_for_each_entry_safe()',
      'Not converted, with the reason:\n  drivers/x/y.c:9: escape: the pages are handed to bio_add_page(), which\n      takes the reference over',
    ]);
    expect(text.split('\n\n')[0]).toBe(
      'This series converts 1 place that holds user pages while their contents are\nread or written (DMA, or the kernel itself) from get_user_pages*() and\nput_page() to pin_user_pages*() and unpin_user_page*(), the FOLL_PIN API\n(Documentation/core-api/pin_user_pages.rst), as of Linux 6.1.',
    );
  });
});

describe('identity', () => {
  it('uses --from, else git config, else fails with MissingIdentityError', () => {
    expect(parseIdentity('Jane Doe <jane@example.org>')).toEqual({ name: 'Jane Doe', email: 'jane@example.org' });
    expect(() => parseIdentity('jane@example.org')).toThrow(/expected "Full Name <email@example.org>"/);
    const dir = scratchDir();
    git(dir, 'init', '-q');
    const env = { ...GIT_ENV, HOME: dir };
    expect(() => resolveIdentity(undefined, { root: dir, env })).toThrow(MissingIdentityError);
    git(dir, 'config', 'user.name', 'Repo Person');
    git(dir, 'config', 'user.email', 'repo@example.org');
    expect(resolveIdentity(undefined, { root: dir, env })).toEqual({ name: 'Repo Person', email: 'repo@example.org' });
    expect(resolveIdentity('Jane Doe <jane@example.org>', { root: dir, env })).toEqual({ name: 'Jane Doe', email: 'jane@example.org' });
  });
});
