/**
 * Opt-in integration check of `gup2pin series` against a real kernel tree (npm run test:kernel):
 * a series of every convertible file of Debian's linux-source-6.1, then the tree's own
 * scripts/checkpatch.pl --strict and scripts/get_maintainer.pl on each patch. Exits non-zero on
 * any checkpatch error or warning, any To/Cc that differs from get_maintainer.pl's, a patch that
 * does not apply, or hunks that are not `git diff`'s (under the tree's .gitattributes).
 *
 * The series of a tree has few patches, so the addressing is also checked on one-line patches to
 * a sample of the tree's files (GUP2PIN_SAMPLE files, default 200; 0 skips it).
 *
 *   npm run test:kernel [-- TREE [PATH…]]      (TREE default: $LINUX_TREE or /work/corpus/linux-source-6.1)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { defaultJobs } from '../../src/parallel/pool.ts';
import { ensureCommand, ensureLinuxTree } from '../provision.ts';
import { run } from '../../src/run.ts';
import { convertedFileFromReport, type ConvertedFile } from '../../src/series/converted.ts';
import { fileDiff } from '../../src/series/format-patch.ts';
import { loadMaintainers } from '../../src/series/maintainers.ts';
import { recipientsForPatch } from '../../src/series/recipients.ts';
import { buildSeries, writeSeries, type Mail } from '../../src/series/series.ts';
import { resolveTarget, versionLabel } from '../../src/target.ts';

const tree = resolve(process.argv[2] ?? process.env.LINUX_TREE ?? '/work/corpus/linux-source-6.1');
const paths = process.argv.slice(3);

/** What `gup2pin series` converts: the same run, proven conversions only. */
async function convertTree(): Promise<{ files: ConvertedFile[]; candidates: number }> {
  const api = resolveTarget('auto', [tree]);
  const targets = paths.length ? paths.map((p) => resolve(tree, p)) : [tree];
  const { files, problems } = await run(targets, api, tree, { jobs: defaultJobs() });
  for (const p of problems) console.error(`${p.path}: ${p.reason}`);
  return { files: files.map((f) => convertedFileFromReport(f)), candidates: files.length };
}

/** checkpatch.pl's closing tally: `total: 0 errors, 1 warnings, 2 checks, 40 lines checked`. */
function checkpatch(patch: string): { errors: number; warnings: number; checks: number; report: string } {
  const r = spawnSync('perl', ['scripts/checkpatch.pl', '--strict', '--no-color', patch], { cwd: tree, encoding: 'utf8' });
  const m = /total: (\d+) errors?, (\d+) warnings?, (?:(\d+) checks?, )?\d+ lines checked/.exec(r.stdout);
  if (!m) return { errors: 1, warnings: 0, checks: 0, report: r.stdout + r.stderr };
  return { errors: +m[1], warnings: +m[2], checks: +(m[3] ?? 0), report: r.stdout };
}

function getMaintainer(patch: string, roles: boolean, seed?: number): string[] {
  const args = ['scripts/get_maintainer.pl', '--nogit', '--nogit-fallback', '--norolestats', ...(roles ? ['--roles'] : []), patch];
  const env = seed === undefined ? process.env : { ...process.env, PERL_HASH_SEED: String(seed), PERL_PERTURB_KEYS: '0' };
  return execFileSync('perl', args, { cwd: tree, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).split('\n').filter(Boolean);
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((e) => b.includes(e));

/**
 * get_maintainer.pl output equal to `ours` (as a set). Sections that match a file equally deep
 * come out in Perl's hash order, which changes from run to run, and the first of them decides
 * which address of a person listed twice is kept: we take file order, so when the plain run
 * disagrees, try other hash seeds (an order get_maintainer.pl itself produces).
 */
function agreement(patch: string, ours: string[]): 'same' | 'tie-order' | undefined {
  if (sameSet(getMaintainer(patch, false), ours)) return 'same';
  for (let seed = 0; seed < 16; seed++) if (sameSet(getMaintainer(patch, false, seed), ours)) return 'tie-order';
  return undefined;
}

async function main(): Promise<number> {
  ensureLinuxTree(tree, console.log);
  ensureCommand('perl', 'perl', console.log);
  const started = Date.now();
  const { files, candidates } = await convertTree();
  const api = resolveTarget('auto', [tree]);
  const series = buildSeries(files, { target: api, root: tree, from: 'Gup Twopin <gup2pin@example.org>', date: new Date() });
  const out = mkdtempSync(join(tmpdir(), 'gup2pin-series-'));
  writeSeries(series, out);
  const converted = files.reduce((n, f) => n + (f.after === f.before ? 0 : f.converted.length), 0);
  console.log(`tree ${tree} (target ${versionLabel(api.version)}): ${candidates} files with GUP calls, ${converted} groups converted in ${files.filter((f) => f.after !== f.before).length} files, ${series.patches.length} patches in ${out} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

  let errors = 0;
  let warnings = 0;
  let checks = 0;
  let agree = 0;
  let failures = 0;
  let gitDiffs = 0;
  for (const mail of series.patches) {
    const file = join(out, mail.fileName);
    const cp = checkpatch(file);
    errors += cp.errors;
    warnings += cp.warnings;
    checks += cp.checks;
    if (cp.errors || cp.warnings) console.log(`${mail.fileName}: checkpatch\n${cp.report}`);
    const same = !!agreement(file, [...mail.to, ...mail.cc]);
    const split = splitAgrees(mail, getMaintainer(file, true));
    if (same && split) agree++;
    else console.log(`${mail.fileName}: To/Cc differ from get_maintainer.pl\n  ours:   To ${mail.to.join(', ')}; Cc ${mail.cc.join(', ')}\n  theirs: ${getMaintainer(file, true).join(', ')}`);
    if (mail.files.every((path) => sameAsGitDiff(out, files.find((f) => f.path === path)!, mail.text))) gitDiffs++;
    else console.log(`${mail.fileName}: hunks differ from git diff's`);
    const apply = spawnSync('git', ['apply', '--check', file], { cwd: tree, encoding: 'utf8' });
    if (apply.status !== 0) {
      failures++;
      console.log(`${mail.fileName}: does not apply to the tree\n${apply.stderr}`);
    }
    console.log(`${mail.fileName}: ${mail.files.join(' ')}: checkpatch ${cp.errors}/${cp.warnings}/${cp.checks}, To ${mail.to.length} Cc ${mail.cc.length}${same && split ? '' : ' MISMATCH'}`);
  }
  const n = series.patches.length;
  const sample = sampleAddressing(out, Number(process.env.GUP2PIN_SAMPLE ?? 200));
  console.log(`patches: ${n}; checkpatch --strict: ${errors} errors, ${warnings} warnings, ${checks} checks; To/Cc equal to get_maintainer.pl: ${agree}/${n}; apply: ${n - failures}/${n}; hunks as git diff places them: ${gitDiffs}/${n}`);
  console.log(`sampled one-line patches: To/Cc equal to get_maintainer.pl for ${sample.agree}/${sample.total} files (${sample.tieOrder} of them in one of its orders of equally deep sections)`);
  return n > 0 && !errors && !warnings && agree === n && !failures && gitDiffs === n && sample.agree === sample.total ? 0 : 1;
}

/**
 * Our hunks for `file` (in the patch text) are git's: `git diff --no-index` of the two texts, under
 * the file's own name and beside the tree's .gitattributes (the kernel's `*.c diff=cpp` names a
 * hunk's function, not the goto label above it).
 */
function sameAsGitDiff(out: string, file: ConvertedFile, patch: string): boolean {
  const dir = mkdtempSync(join(out, 'diff-'));
  mkdirSync(join(dir, 'a'));
  mkdirSync(join(dir, 'b'));
  const name = basename(file.path);
  writeFileSync(join(dir, 'a', name), file.before);
  writeFileSync(join(dir, 'b', name), file.after);
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  // git diff --no-index reads a .gitattributes only inside a repository.
  if (existsSync(join(tree, '.gitattributes'))) {
    copyFileSync(join(tree, '.gitattributes'), join(dir, '.gitattributes'));
    spawnSync('git', ['init', '-q'], { cwd: dir, env });
  }
  const theirs = spawnSync('git', ['diff', '--no-index', '--no-color', `a/${name}`, `b/${name}`], { cwd: dir, env, encoding: 'utf8' }).stdout;
  const hunks = theirs.slice(theirs.indexOf('\n@@') + 1);
  const start = patch.indexOf(`+++ b/${file.path}\n`) + `+++ b/${file.path}\n`.length;
  const next = patch.slice(start).search(/^(diff --git|-- $)/m);
  return patch.slice(start, start + next) === hunks;
}

/**
 * Our addressing of a one-line change to every k-th file of the tree (sources, headers,
 * Makefiles, docs; not .yaml, whose own maintainers: lists get_maintainer.pl also reads) against
 * get_maintainer.pl's.
 */
function sampleAddressing(out: string, count: number): { agree: number; total: number; tieOrder: number } {
  if (count <= 0) return { agree: 0, total: 0, tieOrder: 0 };
  const maintainers = loadMaintainers(tree)!;
  const all = walkAll(tree).filter((p) => /\.(c|h|S|rst)$|(^|\/)(Makefile|Kconfig)$/.test(p));
  const step = Math.max(1, Math.floor(all.length / count));
  let agree = 0;
  let total = 0;
  let tieOrder = 0;
  for (let i = 0; i < all.length && total < count; i += step) {
    const path = all[i];
    const before = readFileSync(join(tree, path), 'utf8');
    const lines = before.split('\n');
    if (lines.length < 2) continue;
    lines[0] += ' ';
    const patch = `From: A <a@example.org>\nSubject: [PATCH] sample\n\nSample.\n---\n${fileDiff({ path, before, after: lines.join('\n') }).text}`;
    const file = join(out, 'sample.patch');
    writeFileSync(file, patch);
    const r = recipientsForPatch(maintainers, patch);
    const ours = [...r.to, ...r.cc];
    total++;
    const a = agreement(file, ours);
    if (a) agree++;
    if (a === 'tie-order') tieOrder++;
    if (!a) console.log(`sample ${path}: ours ${ours.join(', ')}; theirs ${getMaintainer(file, false).join(', ')}`);
  }
  return { agree, total, tieOrder };
}

/** Every file of the tree, relative and sorted (dot-directories skipped). */
function walkAll(root: string, dir = ''): string[] {
  const out: string[] = [];
  for (const d of readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (d.name.startsWith('.')) continue;
    const rel = dir ? `${dir}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...walkAll(root, rel));
    else if (d.isFile()) out.push(rel);
  }
  return out;
}

/**
 * Our To are the M: people, Cc the R: people and the lists. get_maintainer.pl --roles names the
 * first role it saw: someone it calls a reviewer may still be a maintainer of a broader section
 * (then To), but nobody it calls a maintainer may land in Cc, and no list in To.
 */
function splitAgrees(mail: Mail, withRoles: string[]): boolean {
  for (const line of withRoles) {
    // The role may hold parentheses itself: "open list:… (KVM/powerpc)".
    const m = /^(.+?) \((.*)\)$/.exec(line);
    if (!m) return false;
    const [, who, role] = m;
    const isList = /\blist\b/.test(role);
    const isReviewer = role.startsWith('reviewer:');
    if (isList && !mail.cc.includes(who)) return false;
    if (!isList && !isReviewer && !mail.to.includes(who)) return false;
  }
  return true;
}

process.exitCode = await main();
