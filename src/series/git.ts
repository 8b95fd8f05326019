/**
 * What a series asks of the repository it is made for: history (subject prefixes), identity
 * (Signed-off-by) and the base commit. Every call tolerates "not a git checkout" or "no git".
 */
import { createRequire } from 'node:module';

/**
 * node:child_process, loaded when git first runs: only `series` runs it, and loading it (with
 * net, dgram and the stream internals it pulls in) cost every start of every command 3 ms.
 */
let childProcess: typeof import('node:child_process') | undefined;
const spawning = () => (childProcess ??= createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process'));

export interface GitContext {
  /** The repository (or kernel tree) root. */
  root: string;
  /** Environment for git (tests pass one without the user's config). */
  env?: NodeJS.ProcessEnv;
}

/** stdout of git, or undefined when git fails (not a checkout, no such config, no git). */
export function gitOutput(ctx: GitContext, args: string[]): string | undefined {
  try {
    return spawning().execFileSync('git', args, { cwd: ctx.root, env: ctx.env ?? process.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  } catch {
    return undefined;
  }
}

export const isGitCheckout = (ctx: GitContext) => gitOutput(ctx, ['rev-parse', '--is-inside-work-tree'])?.trim() === 'true';

/** Recent subjects of commits touching `files`, newest first (none outside a checkout). */
export function logSubjects(ctx: GitContext, files: readonly string[], limit = 200): string[] {
  const out = gitOutput(ctx, ['log', '--no-merges', `--max-count=${limit}`, '--format=%s', '--', ...files]);
  return out ? out.split('\n').filter(Boolean) : [];
}

export function configValue(ctx: GitContext, key: string): string | undefined {
  return gitOutput(ctx, ['config', '--get', key])?.trim() || undefined;
}

/** `--base REV` as format-patch prints it: the full commit id. */
export function resolveCommit(ctx: GitContext, rev: string): string | undefined {
  if (/^[0-9a-f]{40}$/.test(rev)) return rev;
  return gitOutput(ctx, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`])?.trim() || undefined;
}

/**
 * How many hex digits git abbreviates an object id to here, as in format-patch's `index` lines:
 * `core.abbrev` if set, else a length that grows with the repository's packed objects (12 in a
 * clone of Linux with its history, 7 in a small repository). HEAD's abbreviation has that length
 * (longer only if its own prefix were ambiguous); 7, git's fallback, without a commit or a checkout.
 */
export function abbrevLength(ctx: GitContext): number {
  const short = gitOutput(ctx, ['log', '-1', '--format=%h'])?.trim();
  return short && /^[0-9a-f]{4,40}$/.test(short) ? short.length : 7;
}
