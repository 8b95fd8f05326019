/**
 * bin/load.js: the cached esbuild bundle behaves exactly like the tsx path, is really used,
 * is rebuilt when a source changes, survives concurrent cold starts, and is never a reason to fail.
 * Runs on a copy of the package (own node_modules/.cache) so it can't disturb other tests' runs.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, read, scratchDir } from './helpers.ts';

const REPO = join(import.meta.dirname, '..');
let pkg: string;
let cache: string;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function gup2pin(args: string[], env: Record<string, string> = {}, cwd = FIXTURES): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const p = spawn(join(pkg, 'bin', 'gup2pin'), args, { cwd, env: { ...process.env, GUP2PIN_NO_CACHE: '', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    // The closing line ends with the time taken: the one thing two runs may not share.
    p.on('close', (code) => resolve({ code, stdout, stderr: stderr.replace(/, \d+\.\d\d s\n/g, ', T s\n') }));
  });
}
const tsx = (args: string[]) => gup2pin(args, { GUP2PIN_NO_CACHE: '1' });
const bundles = (entry = 'cli') => readdirSync(cache).filter((f) => f.startsWith(`${entry}-`) && f.endsWith('.cjs'));
/** A bundle and its source map (read on a crash only). */
const withMaps = (names: string[]) => names.flatMap((b) => [b, `${b}.map`]);

const SCAN = ['scan', 'vfio'];
let expected: Outcome;

beforeAll(async () => {
  pkg = scratchDir('gup2pin-pkg-');
  for (const f of ['bin', 'src', 'transforms', 'package.json', 'tsconfig.json']) cpSync(join(REPO, f), join(pkg, f), { recursive: true });
  // Links to the real dependencies, but a node_modules/.cache of its own.
  mkdirSync(join(pkg, 'node_modules'));
  for (const d of readdirSync(join(REPO, 'node_modules')))
    if (!d.startsWith('.')) symlinkSync(join(REPO, 'node_modules', d), join(pkg, 'node_modules', d));
  cache = join(pkg, 'node_modules', '.cache', 'gup2pin');
  expected = await tsx(SCAN);
  expect(expected.code).toBe(0);
  expect(expected.stdout).toMatch(/converted/);
});

describe('launcher cache', () => {
  it('gives byte-identical output, exit code and stderr to the tsx path, cold and warm', async () => {
    rmSync(cache, { recursive: true, force: true });
    expect(await gup2pin(SCAN)).toEqual(expected);
    expect(bundles()).toHaveLength(1);
    // Built with the CLI's, so worker threads never race to build their own.
    expect(bundles('worker')).toHaveLength(1);
    expect(await gup2pin(SCAN)).toEqual(expected);
    const diff = await tsx(['diff', 'vfio']);
    expect(diff.code).toBe(1);
    expect(await gup2pin(['diff', 'vfio'])).toEqual(diff);
  });

  // The bundle loads string-width (yargs', cliui's, wrap-ansi's) only when help is printed.
  it('prints the same help and usage errors as the tsx path', async () => {
    for (const args of [['--help'], ['diff', '--help'], ['diff']]) {
      const viaTsx = await tsx(args);
      expect(viaTsx.stdout + viaTsx.stderr).toMatch(args.includes('--help') ? /--help +Show help/ : /^gup2pin: Not enough non-option arguments/);
      expect(await gup2pin(args)).toEqual(viaTsx);
    }
    const [bundle] = bundles();
    expect(readFileSync(join(cache, bundle), 'utf8')).toMatch(/\/\/ lazy-string-width:/);
  });

  it('really runs the cached bundle when its key matches', async () => {
    const [bundle] = bundles();
    writeFileSync(join(cache, bundle), "exports.main = async function main() { process.stdout.write('from the cache\\n'); return 7; };\n");
    expect(await gup2pin(SCAN)).toEqual({ code: 7, stdout: 'from the cache\n', stderr: '' });
  });

  it('rebuilds a stale bundle when a source changes, and removes the old one', async () => {
    const [stale] = bundles();
    appendFileSync(join(pkg, 'src', 'cli.ts'), '// edited\n');
    expect(await gup2pin(SCAN)).toEqual(expected);
    expect(bundles()).toHaveLength(1);
    expect(bundles()).not.toContain(stale);
    expect(readdirSync(cache)).not.toContain(`${stale}.map`);
  });

  it('survives concurrent cold starts racing to build the same bundle', async () => {
    rmSync(cache, { recursive: true, force: true });
    const runs = await Promise.all(Array.from({ length: 4 }, () => gup2pin(SCAN)));
    for (const r of runs) expect(r).toEqual(expected);
    // No temp files left: the bundles, their maps, and the CLI's code cache (no worker ran); the
    // sources' stamp once they are 2 s old.
    const left = readdirSync(cache).filter((f) => f !== 'sources.stamp');
    expect(left.sort()).toEqual([...withMaps([...bundles(), ...bundles('worker')]), `${bundles()[0]}.code`].sort());
    expect(bundles()).toHaveLength(1);
    expect(bundles('worker')).toHaveLength(1);
  });

  it("keeps V8's code cache of a bundle's first run, uses it after, and makes it again when V8 rejects it", async () => {
    rmSync(cache, { recursive: true, force: true });
    expect(await gup2pin(SCAN)).toEqual(expected);
    const code = join(cache, `${bundles()[0]}.code`);
    const made = statSync(code).mtimeMs;
    expect(statSync(code).size).toBeGreaterThan(10_000);
    expect(await gup2pin(SCAN)).toEqual(expected);
    expect(statSync(code).mtimeMs).toBe(made);
    writeFileSync(code, 'not a code cache');
    expect(await gup2pin(SCAN)).toEqual(expected);
    expect(statSync(code).size).toBeGreaterThan(10_000);
  });

  it('finds its bundle by a stamp of the sources’ stats, and hashes them again when one changes', async () => {
    const stamp = join(cache, 'sources.stamp');
    // Once the sources (src/cli.ts was edited by a test above) are 2 s old, a run leaves the stamp.
    const newest = Math.max(...['src/cli.ts', 'bin/load.js', 'package.json'].map((f) => statSync(join(pkg, f)).ctimeMs));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, newest + 2100 - Date.now())));
    rmSync(stamp, { force: true });
    expect(await gup2pin(SCAN)).toEqual(expected);
    const [signature, key] = readFileSync(stamp, 'utf8').split(' ');
    expect(bundles()).toEqual([`cli-${key}.cjs`]);
    // A source edited just now: a new key and bundle, and no stamp while the edit is that recent.
    appendFileSync(join(pkg, 'src', 'run.ts'), '// edited again\n');
    expect(await gup2pin(SCAN)).toEqual(expected);
    expect(bundles()).not.toEqual([`cli-${key}.cjs`]);
    expect(readFileSync(stamp, 'utf8').split(' ')[0]).toBe(signature);
  });

  it('falls back to tsx when the cache directory cannot be created', async () => {
    rmSync(join(pkg, 'node_modules', '.cache'), { recursive: true, force: true });
    writeFileSync(join(pkg, 'node_modules', '.cache'), 'not a directory');
    try {
      expect(await gup2pin(SCAN)).toEqual(expected);
    } finally {
      rmSync(join(pkg, 'node_modules', '.cache'));
    }
  });

  it('falls back to tsx when esbuild is missing', async () => {
    rmSync(cache, { recursive: true, force: true });
    rmSync(join(pkg, 'node_modules', 'esbuild')); // tsx still finds its own, through the real path
    try {
      expect(await gup2pin(SCAN)).toEqual(expected);
    } finally {
      symlinkSync(join(REPO, 'node_modules', 'esbuild'), join(pkg, 'node_modules', 'esbuild'));
    }
  });

  it('prints a crash the same way: gup2pin: <stack through src/*.ts>, exit 2', async () => {
    const cli = join(pkg, 'src', 'cli.ts');
    const text = readFileSync(cli, 'utf8');
    const head = /export async function main\(args: string\[\]\): Promise<number> \{\n/;
    expect(text).toMatch(head);
    writeFileSync(cli, text.replace(head, (m) => `${m}  if (args[0] === 'crash') throw new Error('boom');\n`));
    const viaTsx = await tsx(['crash']);
    expect(viaTsx.code).toBe(2);
    expect(viaTsx.stderr).toMatch(/^gup2pin: Error: boom\n {4}at (Module\.)?main \(.*src\/cli\.ts:\d+:\d+\)/);
    expect(await gup2pin(['crash'])).toEqual(viaTsx);
    expect(bundles()).toHaveLength(1); // built: this crash came through the bundle
  });

  it('starts Node without NODE_EXTRA_CA_CERTS, which it would read at every start for nothing', async () => {
    // A file that does not exist: Node says so on stderr when it reads the variable.
    const env = { NODE_EXTRA_CA_CERTS: join(pkg, 'no-such-certs.pem') };
    const asCommand = await gup2pin(SCAN, env);
    expect(asCommand).toEqual(expected);
    const underNode = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [join(pkg, 'bin', 'gup2pin'), ...SCAN], { cwd: FIXTURES, env: { ...process.env, ...env } });
      let stderr = '';
      p.stderr.on('data', (d) => (stderr += d));
      p.on('error', reject);
      p.on('close', () => resolve(stderr));
    });
    expect(underNode).toMatch(/Ignoring extra certs from `.*no-such-certs\.pem`/);
  });

  it("starts the worker threads of its own checkout when node_modules is another checkout's", async () => {
    // A second checkout sharing this one's node_modules (a symlink, as worktrees and pnpm make):
    // its bundles land in the shared cache, whose real path is this checkout's.
    const other = scratchDir('gup2pin-other-');
    for (const f of ['bin', 'src', 'transforms', 'package.json', 'tsconfig.json']) cpSync(join(pkg, f), join(other, f), { recursive: true });
    symlinkSync(join(pkg, 'node_modules'), join(other, 'node_modules'));
    appendFileSync(join(other, 'src', 'parallel', 'worker.ts'), "\nprocess.stderr.write('a worker of the other checkout\\n');\n");
    // Enough files for the run to start its threads.
    const tree = scratchDir('gup2pin-threads-');
    writeFileSync(join(tree, 'x.c'), read('vfio', 'before.c'));
    for (let i = 0; i < 2100; i++) writeFileSync(join(tree, `f${i}.c`), 'int x;\n');
    const p = spawn(join(other, 'bin', 'gup2pin'), ['diff', '--jobs', '2', '.'], { cwd: tree, env: { ...process.env, GUP2PIN_NO_CACHE: '' } });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((resolve) => p.on('close', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^a worker of the other checkout$/m);
  });
});

describe('result cache', () => {
  // The other tests (and every other test file) run with the result cache off.
  const cached = (args: string[], cwd?: string) => gup2pin(args, { GUP2PIN_NO_RESULT_CACHE: '' }, cwd);
  const results = () => join(cache, 'results');
  /** The per-stage times of the work the cache saves: parse, sites, plan, verify. */
  const work = (stderr: string) => /parse (\d+), sites (\d+), plan (\d+), verify (\d+)/.exec(stderr)!.slice(1).map(Number);
  const tree = (fixture: string) => {
    const dir = scratchDir('gup2pin-cached-');
    mkdirSync(join(dir, 'drivers'));
    writeFileSync(join(dir, 'drivers', 'x.c'), read(fixture, 'before.c'));
    return dir;
  };

  it('answers a file unchanged since an earlier run from its result: same output, no work', async () => {
    rmSync(results(), { recursive: true, force: true });
    const first = await cached(['verify', '--timings', 'vfio']);
    const second = await cached(['verify', '--timings', 'vfio']);
    // Run inside this checkout: paths are shown from its top.
    expect(first.stdout).toMatch(/^fixtures\/vfio\/before\.c:\d+: equivalent with intended differences: /m);
    expect(second.stdout).toBe(first.stdout);
    expect(second.code).toBe(first.code);
    expect(work(first.stderr).some((ms) => ms > 0)).toBe(true);
    expect(work(second.stderr)).toEqual([0, 0, 0, 0]);
    // --no-cache does the work again.
    expect(work((await cached(['verify', '--timings', '--no-cache', 'vfio'])).stderr).some((ms) => ms > 0)).toBe(true);
  });

  it('does a file again once its bytes change', async () => {
    const dir = tree('vfio');
    const vfio = await cached(['diff', 'drivers'], dir);
    writeFileSync(join(dir, 'drivers', 'x.c'), read('usnic', 'before.c'));
    const usnic = await cached(['diff', 'drivers'], dir);
    expect(usnic.stdout).not.toBe(vfio.stdout);
    expect(usnic).toEqual(await cached(['diff', '--no-cache', 'drivers'], dir));
  });

  it('keeps an LF file and its CRLF twin apart, alone and in a linked unit: each gets its own output', async () => {
    const dir = scratchDir('gup2pin-cached-');
    cpSync(join(FIXTURES, 'linked', 'usnic', 'before'), join(dir, 'linked'), { recursive: true });
    writeFileSync(join(dir, 'x.c'), read('vfio', 'before.c'));
    const lf = await cached(['diff', '.'], dir);
    expect(lf.stdout).toContain('diff --git a/x.c b/x.c\n');
    expect(lf.stdout.match(/^diff --git a\/linked\//gm)).toHaveLength(3);
    expect(lf.stdout).not.toContain('\r');
    for (const rel of readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.c') || f.endsWith('.h')))
      writeFileSync(join(dir, rel), readFileSync(join(dir, rel), 'utf8').replaceAll('\n', '\r\n'));
    const dos = await cached(['diff', '--timings', '.'], dir);
    expect(work(dos.stderr).some((ms) => ms > 0)).toBe(true);
    const fresh = await cached(['diff', '--no-cache', '.'], dir);
    expect(dos.stdout).toBe(fresh.stdout);
    expect(dos.stdout).toBe(lf.stdout.replace(/^([-+ ](?!-- a\/|\+\+ b\/).*)$/gm, '$1\r'));
  });

  it('writes the file of this run when the same path under another root was answered before', async () => {
    const [a, b] = [tree('usnic'), tree('usnic')];
    expect((await cached(['apply', 'drivers'], a)).code).toBe(0);
    const converted = readFileSync(join(a, 'drivers', 'x.c'), 'utf8');
    expect(converted).not.toBe(read('usnic', 'before.c'));
    expect((await cached(['apply', '--timings', 'drivers'], b)).stderr).toMatch(/parse 0, sites 0, plan 0, verify 0/);
    expect(readFileSync(join(b, 'drivers', 'x.c'), 'utf8')).toBe(converted);
  });

  it('does the work again for a damaged entry, and drops the results of other builds', async () => {
    const expectedScan = await cached(SCAN);
    const [build] = readdirSync(results());
    for (const e of readdirSync(join(results(), build))) writeFileSync(join(results(), build, e), 'not an entry');
    mkdirSync(join(results(), '0123456789abcdef0123'));
    expect(await cached(SCAN)).toEqual(expectedScan);
    expect(readdirSync(results())).toEqual([build]);
    // Rewritten whole: the next run is answered again.
    expect(work((await cached([...SCAN, '--timings'])).stderr)).toEqual([0, 0, 0, 0]);
  });
});
