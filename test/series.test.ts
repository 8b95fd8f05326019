/**
 * `gup2pin series` against real git: a throwaway kernel-like repository built from fixtures, a
 * series applied with `git am` in a clean clone (the result must be what `gup2pin apply` writes),
 * and git format-patch of the same commits laid out like ours.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { processText } from '../src/run.ts';
import { convertedFile, type ConvertedFile } from '../src/series/converted.ts';
import { MissingIdentityError } from '../src/series/identity.ts';
import { buildSeries, writeSeries, type Series, type SeriesOptions } from '../src/series/series.ts';
import { apiFor, parseVersion } from '../src/target.ts';
import { GIT_ENV, git, read, scratchDir } from './helpers.ts';

/** Fixture → a plausible kernel path, and the history the subject prefixes come from. */
const TREE = [
  { fixture: 'umem', path: 'drivers/infiniband/core/umem.c', history: ['RDMA/umem: add the umem code', 'RDMA/umem: fix a leak'] },
  { fixture: 'hfi1', path: 'drivers/infiniband/hw/hfi1/user_pages.c', history: ['IB/hfi1: add user pages', 'RDMA/hfi1: tidy', 'IB/hfi1: fix pinned_vm'] },
  { fixture: 'neg-spinlock', path: 'drivers/infiniband/hw/hfi1/ucx.c', history: ['IB/hfi1: add ucx'] },
  { fixture: 'qib', path: 'drivers/infiniband/hw/qib/qib_user_pages.c', history: ['IB/qib: add user pages'] },
  { fixture: 'usnic', path: 'drivers/infiniband/hw/usnic/usnic_uiom.c', history: ['IB/usnic: add uiom'] },
  { fixture: 'vfio', path: 'drivers/vfio/vfio_iommu_type1.c', history: ['vfio/type1: add the type1 IOMMU driver'] },
];

const MAINTAINERS = `INFINIBAND SUBSYSTEM
M:	Ib Maintainer <ib@example.org>
M:	Second Maintainer <second@example.org>
L:	linux-rdma@example.org
S:	Supported
F:	drivers/infiniband/

HFI1 DRIVER
M:	Hfi Maintainer <hfi@example.org>
R:	Ib Maintainer <ib@example.org>
L:	linux-rdma@example.org
S:	Supported
F:	drivers/infiniband/hw/hfi1

QIB DRIVER
M:	Qib Maintainer <qib@example.org>
S:	Supported
F:	drivers/infiniband/hw/qib/

CISCO VIC LOW LATENCY NIC DRIVER
M:	Usnic Maintainer <usnic@example.org>
R:	"Usnic R. Eviewer" <usnic-review@example.org>
S:	Supported
F:	drivers/infiniband/hw/usnic/

VFIO DRIVER
M:	Vfio Maintainer <vfio@example.org>
R:	Vfio Reviewer <vfio-review@example.org>
L:	kvm@example.org
S:	Maintained
F:	drivers/vfio/
K:	\\bvfio_iommu_type1\\b

THE REST
M:	Linus Torvalds <torvalds@linux-foundation.org>
L:	linux-kernel@example.org
S:	Buried alive in reporters
F:	*
F:	*/
`;

const API = apiFor(parseVersion('6.5'));
const DATE = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
const FROM = 'Jane Developer <jane@example.org>';

let repo: string;
let files: ConvertedFile[];

function writeTree(root: string) {
  for (const t of TREE) {
    mkdirSync(join(root, dirname(t.path)), { recursive: true });
    writeFileSync(join(root, t.path), read(t.fixture, 'before.c'));
  }
  writeFileSync(join(root, 'MAINTAINERS'), MAINTAINERS);
}

beforeAll(() => {
  repo = scratchDir('gup2pin-series-');
  git(repo, 'init', '-q', '-b', 'main');
  writeTree(repo);
  git(repo, 'add', 'MAINTAINERS');
  git(repo, 'commit', '-q', '-m', 'MAINTAINERS: add the sections');
  // Each file's history: its first commit adds it, later ones append a comment line.
  for (const t of TREE) {
    t.history.forEach((subject, i) => {
      if (i) writeFileSync(join(repo, t.path), `${readFileSync(join(repo, t.path), 'utf8')}/* ${subject} */\n`);
      git(repo, 'add', t.path);
      git(repo, 'commit', '-q', '-m', subject);
    });
  }
  files = TREE.map((t) => {
    const before = readFileSync(join(repo, t.path), 'utf8');
    return convertedFile(t.path, before, processText(before, API, { core: false }, { verify: true }));
  });
});

const options = (extra: Partial<SeriesOptions> = {}): SeriesOptions => ({
  target: API,
  root: repo,
  gitEnv: GIT_ENV,
  from: FROM,
  date: DATE,
  utcOffsetMinutes: 60,
  ...extra,
});

function clone(): string {
  const dir = join(scratchDir('gup2pin-am-'), 'clone');
  git(dirname(dir), 'clone', '-q', repo, dir);
  return dir;
}

describe('gup2pin series in a git repository', () => {
  let series: Series;
  let out: string;
  beforeAll(() => {
    series = buildSeries(files, options({ base: 'HEAD' }));
    out = scratchDir('gup2pin-out-');
    writeSeries(series, out);
  });

  it('makes one patch per MAINTAINERS section, in path order, prefixed from the history', () => {
    expect(readdirSync(out).sort()).toEqual([
      '0000-cover-letter.patch',
      '0001-RDMA-umem-convert-get_user_pages-pin_user_pages.patch',
      '0002-IB-hfi1-convert-get_user_pages_fast-pin_user_pages_f.patch',
      '0003-IB-qib-convert-get_user_pages-pin_user_pages.patch',
      '0004-IB-usnic-convert-get_user_pages-pin_user_pages.patch',
      '0005-vfio-type1-convert-get_user_pages_remote-pin_user_pa.patch',
    ]);
    expect(series.patches.map((p) => p.files)).toEqual([[TREE[0].path], [TREE[1].path], [TREE[3].path], [TREE[4].path], [TREE[5].path]]);
  });

  it('addresses each patch like get_maintainer.pl: To the maintainers, Cc reviewers and lists', () => {
    expect(series.patches.map((p) => [p.to, p.cc])).toEqual([
      [['Ib Maintainer <ib@example.org>', 'Second Maintainer <second@example.org>'], ['linux-rdma@example.org', 'linux-kernel@example.org']],
      [['Hfi Maintainer <hfi@example.org>', 'Ib Maintainer <ib@example.org>', 'Second Maintainer <second@example.org>'], ['linux-rdma@example.org', 'linux-kernel@example.org']],
      [['Qib Maintainer <qib@example.org>', 'Ib Maintainer <ib@example.org>', 'Second Maintainer <second@example.org>'], ['linux-rdma@example.org', 'linux-kernel@example.org']],
      [
        ['Usnic Maintainer <usnic@example.org>', 'Ib Maintainer <ib@example.org>', 'Second Maintainer <second@example.org>'],
        ['"Usnic R. Eviewer" <usnic-review@example.org>', 'linux-rdma@example.org', 'linux-kernel@example.org'],
      ],
      [['Vfio Maintainer <vfio@example.org>'], ['Vfio Reviewer <vfio-review@example.org>', 'kvm@example.org', 'linux-kernel@example.org']],
    ]);
    expect(series.cover!.to).toEqual([
      'Ib Maintainer <ib@example.org>',
      'Second Maintainer <second@example.org>',
      'Hfi Maintainer <hfi@example.org>',
      'Qib Maintainer <qib@example.org>',
      'Usnic Maintainer <usnic@example.org>',
      'Vfio Maintainer <vfio@example.org>',
    ]);
    expect(series.cover!.cc).toEqual([
      'linux-rdma@example.org',
      'linux-kernel@example.org',
      '"Usnic R. Eviewer" <usnic-review@example.org>',
      'Vfio Reviewer <vfio-review@example.org>',
      'kvm@example.org',
    ]);
  });

  it('applies with git am in a clean clone, giving exactly what gup2pin apply writes', () => {
    const dir = clone();
    git(dir, 'am', '-q', ...series.patches.map((p) => join(out, p.fileName)));
    for (const f of files) expect(readFileSync(join(dir, f.path), 'utf8')).toBe(f.after);
    expect(git(dir, 'log', '--format=%an <%ae>|%ad|%s', '--date=rfc', '-5').trim().split('\n').reverse()).toEqual(
      series.patches.map((p) => `Jane Developer <jane@example.org>|Thu, 2 Jan 2025 04:04:05 +0100|${p.subject}`),
    );
    // The sign-off and the body survive the trip.
    expect(git(dir, 'log', '-1', '--format=%b')).toContain('Signed-off-by: Jane Developer <jane@example.org>\n');
    expect(git(dir, 'status', '--porcelain')).toBe('');
  });

  it('lays the files out like git format-patch of the same commits', () => {
    const dir = clone();
    git(dir, 'am', '-q', ...series.patches.map((p) => join(out, p.fileName)));
    const base = git(repo, 'rev-parse', 'HEAD').trim();
    const theirs = join(scratchDir('gup2pin-fp-'), 'out');
    // The cover letter is from the committer: the same person as ours.
    git(dir, '-c', 'user.name=Jane Developer', '-c', 'user.email=jane@example.org', 'format-patch', '-q', '--cover-letter', '--thread', `--base=${base}`, '--to=To <to@example.org>', '--cc=Cc <cc@example.org>', '-o', theirs, base);
    expect(readdirSync(theirs).sort()).toEqual(readdirSync(out).sort());
    for (const name of readdirSync(out).sort()) {
      const ours = parse(readFileSync(join(out, name), 'utf8'));
      const git_ = parse(readFileSync(join(theirs, name), 'utf8'));
      // Same headers in the same order (git 2.42 spells it Message-ID).
      expect(ours.headers.map((h) => h.name.toLowerCase())).toEqual(git_.headers.map((h) => h.name.toLowerCase()));
      // (git dates a cover letter now, a patch by its author date.)
      for (const h of name.includes('cover-letter') ? ['From'] : ['From', 'Date', 'Subject']) expect(header(ours, h), `${name} ${h}`).toBe(header(git_, h));
      expect(ours.firstLine).toMatch(/^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001$/);
      expect(ours.signature).toEqual(['-- ', expect.stringMatching(/^gup2pin \d+\.\d+\.\d+$/), '', '']);
      if (name.includes('cover-letter')) {
        // The blurb is ours; shortlog, diffstat and base-commit are git's.
        expect(ours.body.slice(ours.body.indexOf('Jane Developer ('))).toBe(git_.body.slice(git_.body.indexOf('Jane Developer (')));
        continue;
      }
      // Message, diffstat and diffs: identical, hunk placement and function names included.
      expect(ours.body).toBe(git_.body);
    }
  });

  it('writes a cover letter with the shortlog, the overall diffstat, the refusals and base-commit', () => {
    const text = series.cover!.text;
    const base = git(repo, 'rev-parse', 'HEAD').trim();
    expect(text).toContain('Subject: [PATCH 0/5] convert get_user_pages*() users to pin_user_pages*()\n');
    expect(text).toContain(
      'Not converted, with the reason:\n  drivers/infiniband/hw/hfi1/ucx.c:50: atomic-context: ucx_put_pages()\n      releases under a spinlock: the dirtying unpin would take the page\n      lock and may sleep\n',
    );
    expect(text.slice(text.indexOf('Jane Developer ('))).toBe(
      'Jane Developer (5):\n' +
        '  RDMA/umem: convert get_user_pages() --> pin_user_pages()\n' +
        '  IB/hfi1: convert get_user_pages_fast() --> pin_user_pages_fast()\n' +
        '  IB/qib: convert get_user_pages() --> pin_user_pages()\n' +
        '  IB/usnic: convert get_user_pages() --> pin_user_pages()\n' +
        '  vfio/type1: convert get_user_pages_remote() -->\n    pin_user_pages_remote()\n\n' +
        ' drivers/infiniband/core/umem.c             |  8 +++-----\n' +
        ' drivers/infiniband/hw/hfi1/user_pages.c    | 10 ++--------\n' +
        ' drivers/infiniband/hw/qib/qib_user_pages.c | 12 +++---------\n' +
        ' drivers/infiniband/hw/usnic/usnic_uiom.c   |  8 +++-----\n' +
        ' drivers/vfio/vfio_iommu_type1.c            |  8 +++-----\n' +
        ' 5 files changed, 14 insertions(+), 32 deletions(-)\n\n' +
        `\nbase-commit: ${base}\n-- \ngup2pin 0.1.0\n\n`,
    );
  });

  it('keeps every commit message line within 75 columns and names the intended differences', () => {
    for (const p of series.patches) {
      const message = p.text.slice(p.text.indexOf('\n\n') + 2, p.text.indexOf('\n---\n'));
      expect(Math.max(...message.split('\n').map((l) => l.length)), p.fileName).toBeLessThanOrEqual(75);
    }
    expect(series.patches[4].text).toContain('- SetPageDirty() -> mapping-aware dirtying (set_page_dirty semantics, under\n  the page lock).');
    expect(series.patches[3].text).not.toContain('The conversion changes behaviour on purpose');
    expect(series.patches[0].text).toContain('\nThis uses the pin_user_pages*() and unpin_user_page*() API as of Linux 6.5.\n');
  });

  it('threads every patch to the cover letter', () => {
    const cover = /^Message-Id: <(.*)>$/m.exec(series.cover!.text)![1];
    expect(cover).toBe('cover.1735787045.git.jane@example.org');
    for (const p of series.patches) expect(p.text).toContain(`\nIn-Reply-To: <${cover}>\nReferences: <${cover}>\n`);
  });
});

describe('series options', () => {
  it('-v 2 names files and subjects v2, and without a cover letter threads to the first patch with base-commit on the last', () => {
    const series = buildSeries(files, options({ version: 2, coverLetter: false, base: 'HEAD', subjectPrefix: 'RFC PATCH' }));
    expect(series.cover).toBeUndefined();
    expect(series.patches.map((p) => p.fileName)[0]).toBe('v2-0001-RDMA-umem-convert-get_user_pages-pin_user_pages.patch');
    expect(series.patches[0].text).toContain('\nSubject: [RFC PATCH v2 1/5] RDMA/umem: convert get_user_pages() -->\n pin_user_pages()\n');
    const first = /^Message-Id: <(.*)>$/m.exec(series.patches[0].text)![1];
    expect(series.patches[0].text).not.toContain('In-Reply-To');
    expect(series.patches[1].text).toContain(`\nIn-Reply-To: <${first}>\n`);
    expect(series.patches.map((p) => p.text.includes('\nbase-commit: '))).toEqual([false, false, false, false, true]);
  });

  it('splits per file or per directory on request; --to/--cc add to every mail', () => {
    const byDir = buildSeries(files, options({ split: 'dir', to: ['Extra <extra@example.org>'], cc: ['list@example.org'] }));
    expect(byDir.patches.map((p) => p.files.length)).toEqual([1, 1, 1, 1, 1]);
    for (const mail of [byDir.cover!, ...byDir.patches]) {
      expect(mail.to).toContain('Extra <extra@example.org>');
      expect(mail.cc).toContain('list@example.org');
    }
    const twoInOne = files.map((f) => (f.path.endsWith('ucx.c') ? { ...f, after: f.before.replace('ucx', 'ucx2') } : f));
    expect(buildSeries(twoInOne, options({ split: 'dir' })).patches[1].files).toEqual(['drivers/infiniband/hw/hfi1/ucx.c', 'drivers/infiniband/hw/hfi1/user_pages.c']);
    expect(buildSeries(twoInOne, options({ split: 'file' })).patches.map((p) => p.files.length)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('outside a git checkout takes the prefix from the MAINTAINERS section, else the path', () => {
    const plain = scratchDir('gup2pin-plain-');
    writeTree(plain);
    const series = buildSeries(files, options({ root: plain }));
    expect(series.patches.map((p) => p.subject.split(':')[0])).toEqual(['infiniband', 'hfi1', 'qib', 'infiniband/hw/usnic', 'vfio']);
  });

  it('without MAINTAINERS makes one patch per directory addressed to nobody', () => {
    const bare = scratchDir('gup2pin-bare-');
    const series = buildSeries(files, options({ root: bare }));
    expect(series.patches.map((p) => p.subject.split(':')[0])).toEqual(['infiniband/core', 'infiniband/hw/hfi1', 'infiniband/hw/qib', 'infiniband/hw/usnic', 'vfio']);
    expect(series.patches.every((p) => !p.to.length && !p.cc.length)).toBe(true);
  });

  it('signs off with git\'s identity without --from, and refuses to invent one', () => {
    const dir = clone();
    const env = { ...GIT_ENV, HOME: dir };
    expect(() => buildSeries(files, options({ root: dir, gitEnv: env, from: undefined }))).toThrow(MissingIdentityError);
    git(dir, 'config', 'user.name', 'Repo Person');
    git(dir, 'config', 'user.email', 'repo@example.org');
    const series = buildSeries(files, options({ root: dir, gitEnv: env, from: undefined }));
    expect(series.patches[0].text).toContain('\nFrom: Repo Person <repo@example.org>\n');
    expect(series.patches[0].text).toContain('\nSigned-off-by: Repo Person <repo@example.org>\n---\n');
  });

  it('makes nothing when nothing converted', () => {
    expect(buildSeries(files.filter((f) => f.after === f.before), options())).toEqual({ patches: [] });
  });
});

describe('the gup2pin series command', () => {
  const BIN = join(import.meta.dirname, '..', 'bin', 'gup2pin');
  const run = (args: string[], cwd: string, env: NodeJS.ProcessEnv = GIT_ENV) => spawnSync(BIN, args, { cwd, encoding: 'utf8', env });

  it('writes the series, lists the files like git format-patch, and git am gives what apply writes', () => {
    const out = scratchDir('gup2pin-cli-out-');
    const r = run(['series', '--target', '6.5', '-o', out, '--from', FROM, 'drivers'], repo);
    expect(r.stderr).toMatch(/^5 converted, 1 refused, 0 already pinned, 6 mails written, 1 unchanged, 0 errors, \d+\.\d\d s\n$/);
    expect(r.status).toBe(0);
    const listed = r.stdout.trim().split('\n');
    expect(listed.map((l) => basename(l))).toEqual(readdirSync(out).sort());
    expect(listed[0]).toBe(join(relative(repo, out), '0000-cover-letter.patch'));

    const applied = clone();
    expect(run(['apply', '-q', '--target', '6.5', 'drivers'], applied).status).toBe(0);
    const am = clone();
    git(am, 'am', '-q', ...listed.slice(1).map((l) => join(repo, l)));
    for (const t of TREE) expect(readFileSync(join(am, t.path), 'utf8'), t.path).toBe(readFileSync(join(applied, t.path), 'utf8'));
  });

  it('names the missing identity and writes nothing', () => {
    const dir = clone();
    const out = join(scratchDir('gup2pin-cli-out-'), 'series');
    const r = run(['series', '--target', '6.5', '-o', out, 'drivers'], dir, { ...GIT_ENV, HOME: dir });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('gup2pin: no author identity: pass --from "Name <email>" or set git config user.name and user.email\n');
    expect(existsSync(out)).toBe(false);
  });
});

interface Parsed {
  firstLine: string;
  headers: Array<{ name: string; value: string }>;
  body: string;
  signature: string[];
}

/** A mail split into its mbox line, headers (continuations joined), body and signature. */
function parse(text: string): Parsed {
  const [head, ...rest] = text.split('\n\n');
  const [firstLine, ...lines] = head.split('\n');
  const headers: Parsed['headers'] = [];
  for (const l of lines) {
    if (/^\s/.test(l)) headers[headers.length - 1].value += `\n${l}`;
    else headers.push({ name: l.slice(0, l.indexOf(':')), value: l.slice(l.indexOf(':') + 2) });
  }
  const body = rest.join('\n\n');
  const sig = body.lastIndexOf('\n-- \n');
  return { firstLine, headers, body: body.slice(0, sig + 1), signature: body.slice(sig + 1).split('\n') };
}

const header = (p: Parsed, name: string) => p.headers.find((h) => h.name === name)?.value;

describe('index lines abbreviated as git abbreviates in the repository', () => {
  /** A repository holding one fixture, with `objects` more blobs packed in it (git fast-import). */
  function repoWith(objects: number): string {
    const dir = scratchDir('gup2pin-abbrev-');
    git(dir, 'init', '-q');
    if (objects) {
      let stream = '';
      for (let i = 0; i < objects; i++) stream += `blob\ndata ${`filler ${i}\n`.length}\nfiller ${i}\n\n`;
      const r = spawnSync('git', ['fast-import', '--quiet'], { cwd: dir, env: GIT_ENV, input: stream });
      expect(r.status).toBe(0);
    }
    mkdirSync(join(dir, 'drivers', 'umem'), { recursive: true });
    writeFileSync(join(dir, 'drivers', 'umem', 'umem.c'), read('umem', 'before.c'));
    git(dir, 'add', '.');
    git(dir, 'commit', '-qm', 'umem: add');
    return dir;
  }

  /** Our one patch's index line, and format-patch's of the commit git am makes of it. */
  function indexLines(dir: string): [string, string] {
    const before = readFileSync(join(dir, 'drivers', 'umem', 'umem.c'), 'utf8');
    const files = [convertedFile('drivers/umem/umem.c', before, processText(before, API, { core: false }, { verify: true }))];
    const series = buildSeries(files, options({ root: dir, coverLetter: false }));
    const out = scratchDir('gup2pin-abbrev-out-');
    writeSeries(series, out);
    git(dir, 'am', '-q', join(out, series.patches[0].fileName));
    const theirs = git(dir, 'format-patch', '-1', '--stdout');
    const index = (text: string) => /^index .*$/m.exec(text)![0];
    return [index(series.patches[0].text), index(theirs)];
  }

  it('takes core.abbrev', () => {
    const dir = repoWith(0);
    git(dir, 'config', 'core.abbrev', '12');
    const [ours, theirs] = indexLines(dir);
    expect(ours).toMatch(/^index [0-9a-f]{12}\.\.[0-9a-f]{12} 100644$/);
    expect(ours).toBe(theirs);
  });

  it('grows with the packed objects, as in a clone with history (33,000 objects: 8 digits)', () => {
    const [ours, theirs] = indexLines(repoWith(33_000));
    expect(ours).toMatch(/^index [0-9a-f]{8}\.\.[0-9a-f]{8} 100644$/);
    expect(ours).toBe(theirs);
  });

  it('is 7 digits in a small repository', () => {
    const [ours, theirs] = indexLines(repoWith(0));
    expect(ours).toMatch(/^index [0-9a-f]{7}\.\.[0-9a-f]{7} 100644$/);
    expect(ours).toBe(theirs);
  });
});
