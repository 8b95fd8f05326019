/**
 * What tests and the opt-in scripts share without vitest: the fixtures, and running the CLI.
 * (test/helpers.ts re-exports these; it registers a vitest hook, so code that runs outside vitest
 * — the fuzz child process, the long fuzz run — imports this module instead.)
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

// Every CLI a test starts does the work: runs compared with each other (--jobs 1 and 3, apply
// twice) would otherwise have the second answered by the first from the result cache.
process.env.GUP2PIN_NO_RESULT_CACHE = '1';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
export const TARGETS = ['5.3', '5.4', '5.6', '6.5'] as const;
export const BIN = join(import.meta.dirname, '..', 'bin', 'gup2pin');

/** The single-file fixtures: a directory with a before.c. */
export const fixtureNames = () =>
  readdirSync(FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(FIXTURES, d.name, 'before.c')))
    .map((d) => d.name)
    .sort();

/** The multi-file fixtures: fixtures/linked/<name>/before/ is a small kernel tree. */
export const LINKED = join(FIXTURES, 'linked');
export const linkedFixtureNames = () =>
  readdirSync(LINKED, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(LINKED, d.name, 'before')))
    .map((d) => d.name)
    .sort();

/** Every file below `dir`, relative to it, with its text. */
export function treeFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) visit(p);
      else out.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  visit(dir);
  return out;
}

export const read = (name: string, file: string) => readFileSync(join(FIXTURES, name, file), 'utf8');

/** The targets the fixtures' after.<target>.c files name, oldest first. */
export function fixtureTargets(): string[] {
  const targets = new Set<string>();
  for (const name of fixtureNames())
    for (const f of readdirSync(join(FIXTURES, name))) {
      const m = /^after\.(\d+\.\d+)\.c$/.exec(f);
      if (m) targets.add(m[1]);
    }
  return [...targets].sort((a, b) => parseFloat(a) - parseFloat(b) || a.localeCompare(b));
}

/** The CLI in `cwd`, synchronously (`options`: e.g. a uid to run as). */
export function gup2pin(args: string[], cwd: string, options: SpawnSyncOptions = {}) {
  const r = spawnSync(BIN, args, { cwd, ...options, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
