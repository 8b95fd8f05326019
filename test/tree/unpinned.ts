/**
 * Opt-in check of how much of upstream's own work gup2pin redoes (npm run test:unpinned [-- TREE]):
 * every pin group a real tree already has on the pin API is a conversion upstream made. Their
 * directories are copied, put back on FOLL_GET by text (`pin_user_pages*` → `get_user_pages*`,
 * `unpin_user_page()` → `put_page()`, `unpin_user_pages()` → `release_pages()`, the dirtying
 * unpins → the 5.4 `put_user_pages_dirty_lock()`), and gup2pin scans the copy for --target 5.6.
 * It prints how many of those groups it converts again, and why it refuses the others.
 *
 * The copy is an approximation of the code before upstream's conversion (the real one sometimes
 * changed more than the calls), so the figure is a yardstick, not a proof. TREE defaults to
 * ../corpus/linux-source-6.1 beside the checkout. The copy goes to $TMPDIR and is removed.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLinuxTree } from '../provision.ts';
import { BIN } from '../support.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEFAULT_TREE = resolve(REPO_ROOT, '..', 'corpus', 'linux-source-6.1');

const say = (message: string) => process.stderr.write(`unpinned: ${message}\n`);

interface ScanJson {
  files: Array<{ path: string; groups: Array<{ line: number; verdict: string; diagnostics: Array<{ code: string; message: string }> }> }>;
}

function scan(dir: string, target?: string): ScanJson {
  const args = [BIN, 'scan', '--json', '--no-cache', ...(target ? ['--target', target] : []), '.'];
  const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0 && r.status !== 2) throw new Error(`gup2pin scan exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ScanJson;
}

/** Back to FOLL_GET, by text. */
const UNPIN: Array<[RegExp, string]> = [
  [/\bpin_user_pages/g, 'get_user_pages'],
  [/\bunpin_user_pages_dirty_lock\(/g, 'put_user_pages_dirty_lock('],
  [/\bunpin_user_pages\(/g, 'release_pages('],
  [/\bunpin_user_page\(/g, 'put_page('],
];

const CORE_RE = /^(mm|kernel|fs|ipc|security|lib)\//;

function main(): number {
  const args = process.argv.slice(2).filter((a) => a !== '--');
  const tree = resolve(args[0] ?? DEFAULT_TREE);
  ensureLinuxTree(tree, say);
  say(`gup2pin scan --json ${tree}`);
  const pinned = scan(tree)
    .files.flatMap((f) => f.groups.filter((g) => g.verdict === 'already-pinned').map((g) => `${f.path}:${g.line}`));
  const files = [...new Set(pinned.map((p) => p.slice(0, p.lastIndexOf(':'))))];
  const scratch = mkdtempSync(join(tmpdir(), 'gup2pin-unpinned-'));
  try {
    // Each such file's whole directory: the callers linking needs are there.
    for (const dir of new Set(files.map(dirname))) {
      mkdirSync(join(scratch, dir), { recursive: true });
      for (const name of readdirSync(join(tree, dir)).filter((n) => /\.[ch]$/.test(n))) {
        const text = readFileSync(join(tree, dir, name), 'utf8');
        writeFileSync(join(scratch, dir, name), UNPIN.reduce((t, [re, to]) => t.replace(re, to), text));
      }
    }
    copyFileSync(join(tree, 'Makefile'), join(scratch, 'Makefile'));
    writeFileSync(join(scratch, 'Kbuild'), '');
    say(`gup2pin scan --json --target 5.6 on the un-pinned copy of ${files.length} files' directories`);
    const again = scan(scratch, '5.6');
    // The same groups (the text edits keep every line where it was); one that merged into
    // another group, or is no group any more, is counted apart.
    const wanted = new Set(pinned);
    const rows = again.files.flatMap((f) => f.groups.map((g) => ({ at: `${f.path}:${g.line}`, ...g }))).filter((r) => wanted.has(r.at));
    const lost = pinned.filter((p) => !rows.some((r) => r.at === p));
    const converted = rows.filter((r) => r.verdict === 'converted');
    const refused = rows.filter((r) => r.verdict !== 'converted');
    const outsideCore = (r: { at: string }) => !CORE_RE.test(r.at);
    const share = (n: number, of: number) => `${n} of ${of} (${of ? Math.round((100 * n) / of) : 0} %)`;
    console.log(`tree                                      ${tree}`);
    console.log(`groups already on the pin API             ${pinned.length} (${files.length} files)`);
    console.log(`converted again, un-pinned                ${share(converted.length, pinned.length)}`);
    if (lost.length) console.log(`no group of their own after un-pinning   ${lost.join(', ')}`);
    console.log(`  outside core kernel code                ${share(converted.filter(outsideCore).length, pinned.filter((p) => outsideCore({ at: p })).length)}`);
    const byCode = new Map<string, number>();
    for (const r of refused) byCode.set(r.diagnostics[0]?.code ?? r.verdict, (byCode.get(r.diagnostics[0]?.code ?? r.verdict) ?? 0) + 1);
    console.log(`refused, by code                          ${[...byCode].map(([c, n]) => `${c} ${n}`).join(', ') || 'none'}`);
    for (const r of refused) console.log(`  ${r.at}: ${r.verdict} ${r.diagnostics[0]?.code ?? ''}: ${r.diagnostics[0]?.message ?? ''}`);
    return 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

process.exitCode = main();
