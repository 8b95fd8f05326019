/**
 * What a run that only converts (`diff`, `apply`) must analyse. A pin group converts only in a
 * file that calls get_user_pages*() outside core kernel code (or with --core); any other candidate
 * file (a driver already on pin_user_pages(), mm/, kernel/, fs/ …) matters to the output only if
 * linking can join it, in one unit, with such a file. On the 6.1 tree that leaves 24 of the 76
 * candidate files to analyse as they are read, and two more at the end; `scan` analyses them all.
 *
 * A file that cannot convert joins a unit with one that can only through the partner searches
 * (see link.ts): its own searches (the .c files of its directory; for its exported helpers, the
 * tree), or another file's. So it is analysed when one of them can reach a file that calls
 * get_user_pages*(): when it exports helpers (decided as the file is read), when such a file
 * shares its directory, or when an analysed file's pages leave through an exported helper, whose
 * callers may be anywhere (both decided once every file is read: `stillNeeded`). Any other file's
 * unit holds no call of get_user_pages*(), so nothing in it converts.
 */
import { dirname } from 'node:path';
import { GET_ACQUIRE_RE } from '../sites/api.ts';
import type { LinkNeeds } from './needs.ts';

const EXPORTS_RE = /\bEXPORT_SYMBOL\w*\s*\(/;

/** A candidate file a converting run did not analyse (yet), or analysed and found nothing in. */
export interface SetAside {
  path: string;
  /** It calls get_user_pages*(): a file of its directory may be linked with it. */
  gets: boolean;
  /**
   * Never analysed (again): core kernel code without --core (never converted, never linked
   * from: link.ts), or a file analysed already that holds no pin group.
   */
  settled: boolean;
}

/** Whether a converting run analyses this candidate now, or sets it aside. */
export function setAside(path: string, text: string, core: boolean): SetAside | undefined {
  const gets = GET_ACQUIRE_RE.test(text);
  if (core) return { path, gets, settled: true };
  if (gets || EXPORTS_RE.test(text)) return undefined;
  return { path, gets, settled: false };
}

/**
 * An analysed file that holds no pin group (6.1's virt/kvm/async_pf.c): nothing to report, but
 * if it calls get_user_pages*() the files of its directory are its neighbours all the same.
 */
export const analysedEmpty = (path: string, gets: boolean): SetAside => ({ path, gets, settled: true });

/** An analysed file, as far as the choice of set-aside files goes. */
export interface Analysed {
  path: string;
  original: string;
  links?: LinkNeeds;
}

/** The set-aside files to analyse after all, once every file of the run is read. */
export function stillNeeded(aside: readonly SetAside[], analysed: readonly Analysed[]): SetAside[] {
  const open = aside.filter((a) => !a.settled);
  if (!open.length) return [];
  if (analysed.some((r) => r.links?.exported.length)) return open;
  const dirs = new Set([...analysed.filter((r) => GET_ACQUIRE_RE.test(r.original)), ...aside.filter((a) => a.gets)].map((f) => dirname(f.path)));
  return open.filter((a) => dirs.has(dirname(a.path)));
}
