/**
 * What the opt-in scripts (test/bench/, test/kernel/) need on a fresh Debian machine: the kernel
 * tree (Debian's linux-source-6.1, unpacked) and tools (Coccinelle, ripgrep, GNU time, perl),
 * installed with apt-get when missing; and a warm page cache, so that every tool reads the tree
 * from memory. Progress goes through `say`, so each script keeps its own prefix.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const LINUX_SOURCE_PACKAGE = 'linux-source-6.1';

/** `dest` holds Debian's linux-source-6.1 unpacked (installed with apt-get if need be). */
export function ensureLinuxTree(dest: string, say: (message: string) => void = log): void {
  if (existsSync(join(dest, 'Makefile'))) return;
  say(`no kernel tree at ${dest}: unpacking Debian's ${LINUX_SOURCE_PACKAGE} there`);
  if (!linuxSourceTarball()) aptInstall(LINUX_SOURCE_PACKAGE);
  const tarball = linuxSourceTarball();
  if (!tarball) throw new Error(`apt-get installed ${LINUX_SOURCE_PACKAGE} but there is no /usr/src/${LINUX_SOURCE_PACKAGE}.tar.*`);
  mkdirSync(dirname(dest), { recursive: true });
  // Unpacked beside `dest` and renamed into place: an interrupted run leaves no half tree.
  const tmp = mkdtempSync(join(dirname(dest), '.linux-'));
  execFileSync('tar', ['-xf', tarball, '-C', tmp], { stdio: 'inherit' });
  renameSync(join(tmp, LINUX_SOURCE_PACKAGE), dest);
  rmdirSync(tmp);
}

function linuxSourceTarball(): string | undefined {
  if (!existsSync('/usr/src')) return undefined;
  const name = readdirSync('/usr/src').find((f) => f.startsWith(`${LINUX_SOURCE_PACKAGE}.tar.`));
  return name && join('/usr/src', name);
}

/** `command` (a name on PATH, or an absolute path) exists, else Debian's `pkg` is installed. */
export function ensureCommand(command: string, pkg: string, say: (message: string) => void = log): void {
  if (hasCommand(command)) return;
  say(`no ${command}: installing Debian's ${pkg}`);
  aptInstall(pkg);
  if (!hasCommand(command)) throw new Error(`apt-get installed ${pkg} but there is still no ${command}`);
}

/**
 * ensureCommand for a tool a script can do without: undefined when `command` is there (or now
 * installed), else why it is not, for the script to print beside the skipped measurement.
 */
export function ensureOptionalCommand(command: string, pkg: string, say: (message: string) => void = log): string | undefined {
  try {
    ensureCommand(command, pkg, say);
    return undefined;
  } catch (e) {
    say(`${command} is missing and Debian's ${pkg} did not install: ${(e as Error).message.split('\n')[0]}`);
    return `not installed (apt-get install ${pkg} failed)`;
  }
}

function hasCommand(command: string): boolean {
  if (command.includes('/')) return existsSync(command);
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { stdio: 'ignore' }).status === 0;
}

function aptInstall(pkg: string): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: ['ignore', 'ignore', 'inherit'], env });
}

/** Reads every file under `dir` (but .git) once, so the timed runs find the tree in the page cache. */
export function warmPageCache(dir: string): void {
  // cat, not tar -cf /dev/null: GNU tar skips reading file contents when it writes to /dev/null.
  const find = [dir, '-name', '.git', '-prune', '-o', '-type', 'f', '-exec', 'cat', '{}', '+'];
  const status = spawnSync('find', find, { stdio: ['ignore', 'ignore', 'inherit'] }).status;
  if (status !== 0) throw new Error(`reading ${dir} into the page cache failed (find/cat exited with ${status})`);
}

/** The benchmark's progress messages. */
export function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}
