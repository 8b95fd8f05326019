import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, vi } from 'vitest';
import { fileReport, reportLines } from '../src/emit/report.ts';
import { processText } from '../src/run.ts';
import { apiFor, parseVersion } from '../src/target.ts';

import { FIXTURES, read } from './support.ts';

export { BIN, FIXTURES, TARGETS, fixtureNames, fixtureTargets, gup2pin, read } from './support.ts';

/**
 * The conversion of a text shown as `file` (its name names a renamed local function), with the
 * simulator on as the CLI runs by default: a group it finds not equivalent is refused.
 */
export function convert(text: string, target: string, file = 'before.c') {
  return processed(text, target, file).plan;
}

/** Scan lines for a fixture's before.c, paths shown as `before.c`, simulator on (as `scan` runs). */
export function scanLines(name: string, target: string, file = 'before.c'): string[] {
  const { plan, verification } = processed(read(name, file), target, file);
  return reportLines(fileReport(file, plan, verification));
}

const results = new Map<string, ReturnType<typeof processText>>();
/** processText with the simulator on, once per text, target and file name (convert and scan share it). */
function processed(text: string, target: string, file: string) {
  const key = `${target}\u0000${file}\u0000${text}`;
  let r = results.get(key);
  if (!r) results.set(key, (r = processText(text, apiFor(parseVersion(target)), { core: false, file }, { verify: true })));
  return r;
}

/** Expected scan lines: scan.<target>.txt if the fixture has one, else scan.txt. */
export function expectedScan(name: string, target: string): string[] {
  const specific = join(FIXTURES, name, `scan.${target}.txt`);
  const file = existsSync(specific) ? specific : join(FIXTURES, name, 'scan.txt');
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

const scratch: string[] = [];
// Registered in the suite of each test file that imports this module: its scratch goes with it.
afterAll(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A new empty directory under the system temp directory, removed after the test file. */
export function scratchDir(prefix = 'gup2pin-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

// No system or user config: a user's diff.noprefix or diff.mnemonicPrefix would change the patches.
export const GIT_ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

/** git in `dir`, with a committer identity and no system or user config; returns stdout. */
export const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=Dev', '-c', 'user.email=dev@example.org', ...args], { cwd: dir, encoding: 'utf8', env: GIT_ENV });

/** Makes `dir` a git repository with everything in it committed. */
export function committed(dir: string): void {
  git(dir, 'init', '-q');
  git(dir, 'add', '.');
  git(dir, 'commit', '-qm', 'base');
}

/**
 * Ten seconds on (fake `Date` until the test ends): stats taken so far are old enough for the
 * file and directory indexes to trust (see MARGIN_MS in src/cache/file-index.ts).
 */
export function later(): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + 10_000);
}

afterEach(() => {
  vi.useRealTimers();
});
