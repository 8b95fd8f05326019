/**
 * Kernel version targeting: which release API the emitted code must compile against.
 * Levels follow the API timeline in the domain reference (§1, H12).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dirsUp, makefileHead } from './discover/root.ts';

export interface KernelVersion {
  major: number;
  minor: number;
}

/** The release/acquire API a target kernel offers. */
export interface TargetApi {
  version: KernelVersion;
  /** 'interim' = put_user_page*() with get_user_pages*(); 'pin' = pin_user_pages*()/unpin_*(). */
  family: 'interim' | 'pin';
  /** put_user_pages_dirty_lock() takes make_dirty (5.4–5.5); always true for 'pin'. */
  dirtyLockTakesMakeDirty: boolean;
  /** get/pin_user_pages_remote() still take a task_struct first (before 5.9). */
  remoteTakesTask: boolean;
  /** get/pin_user_pages(_remote)() still take a vmas array (before 6.5). */
  takesVmas: boolean;
  /** get_user_pages_remote() accepts FOLL_LONGTERM (5.6 on). */
  remoteAcceptsLongterm: boolean;
  /** pin_user_pages_unlocked()/pin_user_pages_fast_only() exist (5.8 on). */
  hasPinUnlockedAndFastOnly: boolean;
  /** pin_user_pages_locked() exists (5.8 until its removal before 6.1). */
  hasPinLocked: boolean;
}

export const versionLabel = (v: KernelVersion) => `${v.major}.${v.minor}`;

const cmp = (a: KernelVersion, major: number, minor: number) =>
  a.major !== major ? a.major - major : a.minor - minor;

export const versionAtLeast = (v: KernelVersion, major: number, minor: number) => cmp(v, major, minor) >= 0;

export function parseVersion(text: string): KernelVersion {
  const m = /^(\d+)\.(\d+)(?:\.\d+)?$/.exec(text.trim());
  if (!m) throw new TargetError(`invalid --target '${text}': expected a kernel version such as 5.6 or 6.5`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

export class TargetError extends Error {}

export function apiFor(version: KernelVersion): TargetApi {
  if (cmp(version, 5, 3) < 0) {
    throw new TargetError(
      `target ${versionLabel(version)} is older than 5.3: kernels before 5.3 have no ` +
        `put_user_page*() or pin_user_pages*() API to convert to`,
    );
  }
  const atLeast = (major: number, minor: number) => versionAtLeast(version, major, minor);
  return {
    version,
    family: atLeast(5, 6) ? 'pin' : 'interim',
    dirtyLockTakesMakeDirty: atLeast(5, 4),
    remoteTakesTask: !atLeast(5, 9),
    takesVmas: !atLeast(6, 5),
    remoteAcceptsLongterm: atLeast(5, 6),
    hasPinUnlockedAndFastOnly: atLeast(5, 8),
    hasPinLocked: atLeast(5, 8) && !atLeast(6, 1),
  };
}

export const DEFAULT_VERSION: KernelVersion = { major: 6, minor: 5 };

/** VERSION/PATCHLEVEL of the kernel tree containing `path`, found by walking up to its Makefile. */
export function versionFromTree(path: string): KernelVersion | undefined {
  for (const dir of dirsUp(path)) {
    const text = existsSync(join(dir, 'Kconfig')) ? makefileHead(dir) : undefined;
    if (text !== undefined) {
      const major = /^VERSION\s*=\s*(\d+)/m.exec(text);
      const minor = /^PATCHLEVEL\s*=\s*(\d+)/m.exec(text);
      if (major && minor) return { major: +major[1], minor: +minor[1] };
    }
  }
  return undefined;
}

/** Resolve `--target` ('auto' or X.Y) for the given input paths. */
export function resolveTarget(option: string | undefined, paths: string[]): TargetApi {
  if (option && option !== 'auto') return apiFor(parseVersion(option));
  for (const p of paths) {
    const found = versionFromTree(p);
    if (found) return apiFor(found);
  }
  return apiFor(DEFAULT_VERSION);
}
