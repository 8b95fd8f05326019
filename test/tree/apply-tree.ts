/**
 * Opt-in whole-tree check of `gup2pin apply` (npm run test:tree [-- TREE]): applies gup2pin to a
 * copy of a full kernel tree and checks that
 *
 *   - the files it changed are exactly the files of converted groups in `gup2pin scan --json`
 *     (a linked group's files included), and no other file appeared, went or changed mode;
 *   - no collateral bytes: each changed file is its original with the planner's edits applied
 *     (test/invariants.ts collateral()), every byte outside the edit ranges kept; a file of a
 *     linked unit is planned in process with the unit's other files, as apply planned it;
 *   - every changed file re-parses no worse than before (errorNodeCount);
 *   - it is idempotent: a second `apply` writes nothing and `diff` prints nothing;
 *
 * and prints the figures; it exits 1 on any violation. TREE defaults to ../corpus/linux-source-6.1
 * beside the checkout, unpacked from Debian's linux-source-6.1 when missing (test/provision.ts).
 * The copy (cp -a --reflink=auto, ~1.3 GB for 6.1) goes to $TMPDIR and is removed at the end.
 *
 * With --crlf (npm run test:tree -- --crlf [TREE]), the copy is a vendor tree's: every line of
 * every .c/.h file ends in CRLF. Then also: `scan --json` of the copy is the original tree's, byte
 * for byte (the same groups, lines and verdicts), and each file apply changed is the CRLF form of
 * the in-process plan's output for the original; the copy is compared with a CRLF copy taken
 * before apply (a second copy, as large).
 *
 * In either mode the copy is made a git checkout before apply (its git directory beside it, so no
 * file appears in it), where `git apply --check`, from the top, must take `gup2pin diff .` and the
 * diff of one converted file's directory made from its parent directory (`cd arch/powerpc &&
 * gup2pin diff kvm`), and `git diff` after apply must print what `gup2pin diff .` printed before it
 * (index lines aside): hunks, function names (the tree's .gitattributes) and line endings. Last,
 * the copy is reset to its commit, its objects packed (as a clone's are, so that git abbreviates ids
 * to more digits), and given `gup2pin series .`: `git am --keep-cr` must take the patches and give
 * the files apply wrote, and each patch's diffstat and diffs (index lines included) must be `git
 * format-patch`'s of the commits it made.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { walk } from '../../src/discover/walk.ts';
import { joinUnit, splitEdits } from '../../src/link/unit.ts';
import { applyEdits } from '../../src/plan/plan.ts';
import { analyzeText } from '../../src/run.ts';
import { planVerified } from '../../src/sim/index.ts';
import type { TargetApi } from '../../src/target.ts';
import type { Edit } from '../../transforms/index.ts';
import { resolveTarget, versionLabel } from '../../src/target.ts';
import { collateral, errorNodeCount } from '../invariants.ts';
import { ensureLinuxTree } from '../provision.ts';
import { BIN } from '../support.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEFAULT_TREE = resolve(REPO_ROOT, '..', 'corpus', 'linux-source-6.1');

const say = (message: string) => process.stderr.write(`apply-tree: ${message}\n`);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** gup2pin in `cwd`, timed (wall). */
function gup2pin(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Ran {
  const start = performance.now();
  // Every run does the work: the second apply and the diff must not be answered by the first.
  const r = spawnSync(process.execPath, [BIN, ...args, '--no-cache'], { cwd, env, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - start) / 1000 };
}

/** How the copy differs from the original tree (GNU diff -rq, symlinks compared as links). */
function treeDifferences(original: string, copy: string): { changed: string[]; other: string[] } {
  const r = spawnSync('diff', ['-rq', '--no-dereference', original, copy], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`diff -rq failed (exit ${r.status}): ${r.stderr}`);
  const changed: string[] = [];
  const other: string[] = [];
  const head = `Files ${original}/`;
  const mid = ` and ${copy}/`;
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const at = line.indexOf(mid);
    if (line.startsWith(head) && line.endsWith(' differ') && at > 0) changed.push(line.slice(head.length, at));
    else other.push(line); // "Only in …", a file turned into a directory, …
  }
  return { changed: changed.sort(), other };
}

interface ScanJson {
  files: Array<{ path: string; groups: Array<{ verdict: string; files?: string[]; linkedWith?: string[] }> }>;
  summary: { converted: number; refused: number; alreadyPinned: number; files: number };
}

/**
 * The files of each converted group's unit (its own file alone when not linked), as scan showed
 * them: the files apply planned together.
 */
function unitsOf(report: ScanJson): Map<string, string[]> {
  const units = new Map<string, string[]>();
  for (const f of report.files)
    for (const g of f.groups) {
      if (g.verdict !== 'converted') continue;
      const unit = [...new Set([...(g.files ?? [f.path]), ...(g.linkedWith ?? [])])].sort();
      for (const rel of g.files ?? [f.path]) units.set(rel, unit);
    }
  return units;
}

/** The edits and output of each file of a unit, planned in process as apply planned them. */
function planUnit(tree: string, rels: string[], api: TargetApi): Map<string, { edits: Edit[]; output: string }> {
  const unit = joinUnit(rels.map((rel) => ({ path: join(tree, rel), display: rel, text: readFileSync(join(tree, rel), 'utf8') })));
  // The core-kernel policy refuses every group of a file, so a converted group was planned with it off.
  const { plan } = planVerified(analyzeText(unit.text, unit.segments), api, { core: false });
  const edits = splitEdits(unit, plan.edits);
  return new Map(unit.segments.map((s) => [s.display, { edits: edits.get(s) ?? [], output: applyEdits(s.text, edits.get(s) ?? []) }]));
}

/** Every line ending CRLF, at the byte level (a file need not be UTF-8): a vendor tree's form. */
const crlfOf = (bytes: Buffer) => Buffer.from(bytes.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');

/** Rewrites every .c/.h file under `dir` with CRLF line endings, in place (mode and inode kept). */
function toCrlf(dir: string): number {
  let rewritten = 0;
  for (const file of walk([dir]).files) {
    const bytes = readFileSync(file);
    const crlf = crlfOf(bytes);
    if (!crlf.equals(bytes)) (writeFileSync(file, crlf), rewritten++);
  }
  return rewritten;
}

/** The environment of a checkout of `tree` whose git directory lies beside it (so no file appears in the tree). */
const checkoutEnv = (tree: string): NodeJS.ProcessEnv => ({ ...process.env, GIT_DIR: `${tree}.git`, GIT_WORK_TREE: tree });

/** git in such a checkout, without the user's config. */
function gitIn(tree: string): (args: string[], input?: string) => SpawnSyncReturns<string> {
  const env = { ...checkoutEnv(tree), GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  return (args, input) =>
    spawnSync('git', ['-c', 'core.autocrlf=false', '-c', 'gc.auto=0', '-c', 'user.name=Dev', '-c', 'user.email=dev@example.org', ...args], { cwd: tree, env, input, encoding: 'utf8', maxBuffer: 1 << 30 });
}

/** Makes `tree` a git checkout (see gitIn) with everything committed; returns gup2pin's environment there. */
function commitAll(tree: string): NodeJS.ProcessEnv {
  const git = gitIn(tree);
  // -f: Debian's tarball ships a .gitignore of /*.
  for (const args of [['init', '-q'], ['add', '-A', '-f', '.'], ['commit', '-q', '-m', 'the tree']]) {
    const r = git(args);
    if (r.status !== 0) throw new Error(`git ${args[0]} failed (exit ${r.status}): ${r.stderr}`);
  }
  return checkoutEnv(tree);
}

/**
 * Whether, in the git checkout `tree`, `git apply --check` and `patch -p1 --dry-run` from the top
 * take `whole` (`gup2pin diff .`) and the diff of `file`'s directory made from its parent
 * directory. The violations, if any.
 */
function patchesApply(tree: string, env: NodeJS.ProcessEnv, whole: Ran, file: string | undefined): string[] {
  const git = gitIn(tree);
  const violations: string[] = [];
  const takes = (what: string, patch: Ran, prefix: string) => {
    if (patch.code !== 1) violations.push(`${what}: gup2pin diff exited ${patch.code}, not 1 (changes printed)`);
    const paths = [...patch.stdout.matchAll(/^\+\+\+ b\/(\S+)/gm)].map((m) => m[1]);
    if (!paths.length || paths.some((p) => !p.startsWith(prefix))) violations.push(`${what}: patch paths not from the tree's top: ${some(paths)}`);
    const r = git(['apply', '--check', '-'], patch.stdout);
    if (r.status !== 0) violations.push(`${what}: git apply --check rejects it: ${r.stderr.trim().split('\n')[0]}`);
    const p = spawnSync('patch', ['-p1', '--dry-run', '-s'], { cwd: tree, input: patch.stdout, encoding: 'utf8' });
    if (p.status !== 0) violations.push(`${what}: patch -p1 --dry-run rejects it: ${(p.stdout + p.stderr).trim().split('\n')[0]}`);
    say(`${what}: ${paths.length} files, git apply --check ${r.status === 0 ? 'takes it' : 'rejects it'}, patch -p1 ${p.status === 0 ? 'takes it' : 'rejects it'}`);
  };
  takes("the whole tree's diff", whole, '');
  if (file) {
    const dir = dirname(file);
    const [parent, name] = [dirname(dir), basename(dir)];
    say(`cd ${parent} && gup2pin diff ${name} | (cd top && git apply --check)`);
    takes(`the diff of ${dir}/ from ${parent}/`, gup2pin(['diff', name], join(tree, parent), env), `${dir}/`);
  }
  return violations;
}

/**
 * `gup2pin series .` of the git checkout `tree` (reset to its commit first), its patches taken by
 * `git am --keep-cr` (as a CRLF patch must be), the files that gives against `outputs` (what apply
 * wrote), and each patch's message, diffstat and diffs against `git format-patch` of the commits
 * `git am` made.
 */
function seriesAsFormatPatch(tree: string, env: NodeJS.ProcessEnv, outputs: Map<string, Buffer>): { patches: number; abbrev: number; sameFiles: boolean; sameBodies: string; violations: string[] } {
  const git = gitIn(tree);
  const violations: string[] = [];
  const run = (args: string[]) => {
    const r = git(args);
    if (r.status !== 0) violations.push(`git ${args[0]} failed (exit ${r.status}): ${r.stderr.trim().split('\n')[0]}`);
    return r;
  };
  run(['checkout', '-q', '--', '.']);
  // Packed, as a clone's objects are: git then abbreviates ids by their number (9 digits here).
  run(['repack', '-a', '-d', '-q', '--window=0', '--depth=0']);
  const abbrev = git(['log', '-1', '--format=%h']).stdout.trim().length;
  const out = `${tree}.series`;
  const made = gup2pin(['series', '--from', 'Gup Twopin <gup2pin@example.org>', '-o', out, '.'], tree, env);
  if (made.code !== 0) violations.push(`series exited ${made.code}: ${made.stderr.trim().split('\n').pop()}`);
  const patches = made.code === 0 ? readdirSync(out).filter((n) => !n.startsWith('0000-')).sort() : [];
  if (!patches.length) return { patches: 0, abbrev, sameFiles: false, sameBodies: '0/0', violations: [...violations, 'series wrote no patch'] };
  run(['am', '-q', '--keep-cr', ...patches.map((n) => join(out, n))]);
  const sameFiles = [...outputs].every(([rel, bytes]) => readFileSync(join(tree, rel)).equals(bytes)) && git(['status', '--porcelain']).stdout === '';
  if (!sameFiles) violations.push('git am of the series does not give the files apply wrote');
  const theirs = `${tree}.format-patch`;
  run(['format-patch', '-q', '-o', theirs, `HEAD~${patches.length}`]);
  // From the `---` before the diffstat to the signature: the diffstat and the diffs.
  const diffs = (text: string) => text.slice(text.indexOf('\n---\n'), text.lastIndexOf('\n-- \n'));
  const same = patches.filter((n) => {
    const ours = diffs(readFileSync(join(out, n), 'latin1'));
    return ours.includes('\ndiff --git ') && ours === diffs(readFileSync(join(theirs, n), 'latin1'));
  });
  for (const n of patches) if (!same.includes(n)) violations.push(`${n}: diffstat or diffs differ from git format-patch's`);
  return { patches: patches.length, abbrev, sameFiles, sameBodies: `${same.length}/${patches.length}`, violations };
}

/** A copy of the tree `from` at `to`, modes and times kept (shared blocks where the file system can). */
function copyTree(from: string, to: string): void {
  const cp = spawnSync('cp', ['-a', '--reflink=auto', from, to], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (cp.status !== 0) throw new Error(`cp -a failed (exit ${cp.status})`);
}

/** A few names of a list, for a report line. */
const some = (names: string[]) => names.slice(0, 10).join(', ') + (names.length > 10 ? `, … (${names.length})` : '');

/**
 * Checks apply on `copy`, made from `tree`; `reference` is the copy as it was before apply (the
 * tree itself, or its CRLF form with `crlf`).
 */
function check(tree: string, copy: string, reference: string, crlf: boolean): number {
  const violations: string[] = [];
  const violation = (what: string) => {
    violations.push(what);
    say(`VIOLATION: ${what}`);
  };
  const api = resolveTarget('auto', [tree]);
  const cFiles = walk([copy]).files.length;

  say('gup2pin scan --json .');
  const scan = gup2pin(['scan', '--json', '.'], copy);
  if (scan.code !== 0 && scan.code !== 2) throw new Error(`gup2pin scan exited ${scan.code}: ${scan.stderr}`);
  const report = JSON.parse(scan.stdout) as ScanJson;
  if (crlf) {
    say('gup2pin scan --json . (the original tree, to compare)');
    const lf = gup2pin(['scan', '--json', '.'], tree);
    if (lf.stdout !== scan.stdout) violation('scan --json of the CRLF copy is not the original tree\'s');
  }
  const units = unitsOf(report);
  const withConverted = [...units.keys()].sort();

  say('making the copy a git checkout, and gup2pin diff . | git apply --check');
  const env = commitAll(copy);
  const before = gup2pin(['diff', '.'], copy, env);
  for (const v of patchesApply(copy, env, before, withConverted[0])) violation(v);
  // Its stderr: files it could not use (problems), and converted groups the simulator cannot model.
  const scanNotes = scan.stderr.split('\n').filter((l) => l.startsWith('gup2pin: '));
  const unverified = scanNotes.filter((l) => l.includes(': converted but not verified: '));
  const scanProblems = scanNotes.filter((l) => !unverified.includes(l));

  say('gup2pin apply .');
  const first = gup2pin(['apply', '.'], copy);
  const notWritten = first.stderr.split('\n').filter((l) => / not written: /.test(l));
  if (notWritten.length) violation(`apply did not write ${notWritten.length} files: ${some(notWritten)}`);
  if (first.code !== 0 && first.code !== 2) violation(`apply exited ${first.code}`);
  const written = first.stdout.split('\n').filter((l) => l.startsWith('converted ')).length;

  say(`comparing the copy with ${crlf ? 'its CRLF form before apply' : 'the tree'}`);
  const after = treeDifferences(reference, copy);
  const changedSet = new Set(after.changed);
  const convertedSet = new Set(withConverted);
  const unexpected = after.changed.filter((p) => !convertedSet.has(p));
  const unchanged = withConverted.filter((p) => !changedSet.has(p));
  if (unexpected.length) violation(`changed without a converted group: ${some(unexpected)}`);
  if (unchanged.length) violation(`converted groups but not changed: ${some(unchanged)}`);
  if (after.other.length) violation(`files appeared, went or changed type: ${some(after.other)}`);
  if (written !== after.changed.length) violation(`apply reported ${written} files written, ${after.changed.length} differ`);
  // What diff printed before apply is what git diff prints after it: hunks, function names, endings.
  const gitDiff = gitIn(copy)(['diff', '--no-color']).stdout.replace(/^index .*\n/gm, '');
  const sameAsGit = gitDiff === before.stdout;
  if (!sameAsGit) violation(`gup2pin diff before apply is not git diff after it (${before.stdout.length} and ${gitDiff.length} bytes)`);

  let collateralCount = 0;
  let reparseFailures = 0;
  let modeChanges = 0;
  let planMismatches = 0;
  const outputs = new Map<string, Buffer>();
  for (const rel of after.changed) {
    const original = readFileSync(join(tree, rel), 'utf8');
    const bytes = readFileSync(join(copy, rel));
    outputs.set(rel, bytes);
    if ((statSync(join(reference, rel)).mode & 0o7777) !== (statSync(join(copy, rel)).mode & 0o7777)) {
      modeChanges++;
      violation(`${rel}: mode changed`);
    }
    // Planned on the original: a CRLF file's output is its LF twin's, each line ending CRLF.
    const plan = planUnit(tree, units.get(rel) ?? [rel], api).get(rel)!;
    const expected = crlf ? crlfOf(Buffer.from(plan.output)) : Buffer.from(plan.output);
    // What the checks below read: the bytes written, or in a CRLF tree the plan's LF output they
    // were just compared with (collateral() and the parser take the original's LF text).
    const output = crlf ? plan.output : bytes.toString('utf8');
    if (!expected.equals(bytes)) {
      planMismatches++;
      violation(`${rel}: the bytes written are not the in-process plan's output`);
    }
    const moved = collateral(original, output, plan.edits);
    if (moved) {
      collateralCount++;
      violation(`${rel}: collateral change: ${moved}`);
    }
    const [before, now] = [errorNodeCount(original), errorNodeCount(output)];
    if (now > before) {
      reparseFailures++;
      violation(`${rel}: parses worse after apply: ${now} error nodes, ${before} before`);
    }
  }

  say('gup2pin apply . (again)');
  const second = gup2pin(['apply', '.'], copy);
  const secondWritten = second.stdout.split('\n').filter((l) => l.startsWith('converted ')).length;
  const again = treeDifferences(reference, copy);
  const secondChanged =
    again.changed.filter((p) => !changedSet.has(p)).length + after.changed.filter((p) => !readFileSync(join(copy, p)).equals(outputs.get(p)!)).length;
  if (secondWritten || secondChanged) violation(`the second apply wrote ${secondWritten} files, ${secondChanged} changed`);
  say('gup2pin diff .');
  const diff = gup2pin(['diff', '.'], copy);
  if (diff.stdout !== '' || diff.code !== 0) violation(`diff after apply printed ${diff.stdout.length} bytes, exit ${diff.code}`);

  say('the tree as committed again; gup2pin series ., git am --keep-cr, git format-patch');
  const series = seriesAsFormatPatch(copy, env, outputs);
  for (const v of series.violations) violation(v);

  const figures: Array<[string, string | number]> = [
    ['tree', `${tree} (target ${versionLabel(api.version)}, from its Makefile)${crlf ? ', copied with CRLF line endings' : ''}`],
    ['C files in the tree (.c/.h)', cFiles],
    ['candidate files (with pin groups)', report.files.length],
    ['files with converted groups', withConverted.length],
    ['groups converted / refused / already pinned', `${report.summary.converted} / ${report.summary.refused} / ${report.summary.alreadyPinned}`],
    ['converted groups not verified (simulator cannot model them)', unverified.length],
    ['files left with a problem (unreadable, too big, not UTF-8…)', scanProblems.length],
    ['files changed by apply', after.changed.length],
    ['changed without a converted group / converted but unchanged', `${unexpected.length} / ${unchanged.length}`],
    ['other differences (files appeared, went, changed type)', after.other.length],
    ['mode changes', modeChanges],
    ['written bytes differing from the in-process plan', planMismatches],
    ['collateral violations', collateralCount],
    ['re-parse failures (more error nodes after)', reparseFailures],
    ['second-run changes (apply writes / files changed)', `${secondWritten} / ${secondChanged}`],
    ['diff after apply (bytes printed, exit status)', `${diff.stdout.length}, ${diff.code}`],
    ['gup2pin diff before apply = git diff after it', sameAsGit ? 'yes' : 'NO'],
    ['series: patches / git am gives apply\'s files / bodies = git format-patch\'s', `${series.patches} / ${series.sameFiles ? 'yes' : 'NO'} / ${series.sameBodies}`],
    ['series: digits of the index lines\' ids (the packed checkout\'s)', series.abbrev],
    ['wall time: scan --json', `${scan.seconds.toFixed(2)} s`],
    ['wall time: first apply (exit status)', `${first.seconds.toFixed(2)} s (${first.code})`],
    ['wall time: second apply (exit status)', `${second.seconds.toFixed(2)} s (${second.code})`],
    ['wall time: diff', `${diff.seconds.toFixed(2)} s`],
    ['violations', violations.length],
  ];
  const width = Math.max(...figures.map(([k]) => k.length));
  for (const [k, v] of figures) console.log(`${k.padEnd(width)}  ${v}`);
  for (const note of scanNotes) say(`scan: ${note}`);
  console.log(`apply's closing line, first run:  ${first.stderr.trim().split('\n').pop()}`);
  console.log(`apply's closing line, second run: ${second.stderr.trim().split('\n').pop()}`);
  return violations.length ? 1 : 0;
}

function main(): number {
  const all = process.argv.slice(2).filter((a) => a !== '--');
  const crlf = all.includes('--crlf');
  const args = all.filter((a) => a !== '--crlf');
  if (args.some((a) => a.startsWith('-')) || args.length > 1) {
    console.error('usage: npm run test:tree [-- [--crlf] TREE]');
    return 2;
  }
  const tree = resolve(args[0] ?? DEFAULT_TREE);
  ensureLinuxTree(tree, say);
  const scratch = mkdtempSync(join(tmpdir(), 'gup2pin-tree-'));
  const copy = join(scratch, 'linux');
  // The copy is large: gone on Ctrl-C too (the child gets the signal as well; we clean up after it).
  const cleanUp = () => rmSync(scratch, { recursive: true, force: true });
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.on(signal, () => {
      cleanUp();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  try {
    say(`copying ${tree} to ${copy}`);
    const start = performance.now();
    copyTree(tree, copy);
    say(`copied in ${((performance.now() - start) / 1000).toFixed(1)} s`);
    if (!crlf) return check(tree, copy, tree, false);
    say(`rewrote ${toCrlf(copy)} files with CRLF line endings`);
    const reference = join(scratch, 'linux-crlf');
    copyTree(copy, reference);
    return check(tree, copy, reference, true);
  } finally {
    say(`removing ${scratch}`);
    cleanUp();
  }
}

process.exitCode = main();
