/**
 * Commit messages in kernel style: a subject naming the calls actually converted, and a body
 * wrapped at 75 columns saying what changed, why (FOLL_PIN), on which API, and which behaviour
 * differences are intended.
 */
import { INTENDED_DIFFERENCES } from '../sim/verdict.ts';
import { versionLabel, type TargetApi } from '../target.ts';
import { fill } from './wrap.ts';

const ACQUIRE_RE = /^(?:__)?(?:get|pin)_user_pages\w*$/;
const RELEASE_RE = /^(?:put_page|release_pages|put_user_pages?\w*|unpin_user_pages?\w*|set_page_dirty(?:_lock)?|SetPageDirty)$/;
const DIRTYING_RE = /^(?:set_page_dirty(?:_lock)?|SetPageDirty)$/;
const CALL_RE = /\b([A-Za-z_]\w*)\s*\(/g;

/** A file's own function renamed out of the API's way (H14), in the file at `path`. */
export interface Renamed {
  from: string;
  to: string;
  path?: string;
}

/** The mm calls a change removes and adds: call counts before and after, compared per name. */
export interface CallChange {
  acquiresGone: string[];
  acquiresNew: string[];
  releasesGone: string[];
  releasesNew: string[];
}

export function callChange(pairs: ReadonlyArray<{ before: string; after: string; renamed?: readonly Renamed[] }>): CallChange {
  const count = (texts: string[]) => {
    const m = new Map<string, number>();
    for (const t of texts) for (const [, name] of t.matchAll(CALL_RE)) m.set(name, (m.get(name) ?? 0) + 1);
    return m;
  };
  const gone = count(pairs.map((p) => p.before));
  const added = count(pairs.map((p) => p.after));
  // A renamed local function's calls are not gone: they are there under its new name.
  for (const p of pairs)
    for (const r of p.renamed ?? []) gone.set(r.from, (gone.get(r.from) ?? 0) - (count([p.after]).get(r.to) ?? 0));
  const diff = (a: Map<string, number>, b: Map<string, number>, re: RegExp) =>
    [...a].filter(([n, c]) => re.test(n) && c > (b.get(n) ?? 0)).map(([n]) => n).sort();
  return {
    acquiresGone: diff(gone, added, ACQUIRE_RE),
    acquiresNew: diff(added, gone, ACQUIRE_RE),
    releasesGone: diff(gone, added, RELEASE_RE),
    releasesNew: diff(added, gone, RELEASE_RE),
  };
}

/** `a()`, or `family*()` for several calls of one family, else `a() and b()`. */
export function callNames(names: readonly string[]): string {
  if (names.length === 1) return `${names[0]}()`;
  let common = names[0] ?? '';
  for (const n of names) while (!n.startsWith(common)) common = common.slice(0, -1);
  common = common.replace(/_+$/, '');
  if (/_user_pages?$/.test(common)) return `${common}*()`;
  return names.map((n) => `${n}()`).join(names.length === 2 ? ' and ' : ', ');
}

const list = (names: readonly string[]) =>
  names.length <= 1 ? names.map((n) => `${n}()`).join('') : `${names.slice(0, -1).map((n) => `${n}()`).join(', ')} and ${names.at(-1)}()`;

/** The releases a summary names: the puts, not the dirtying calls folded into them. */
const releasesNamed = (names: readonly string[]) => {
  const proper = names.filter((n) => !DIRTYING_RE.test(n));
  return proper.length ? proper : names;
};

/** `convert get_user_pages() --> pin_user_pages()`, or the releases on the interim API. */
export function summary(change: CallChange): string {
  if (change.acquiresGone.length && change.acquiresNew.length) return `convert ${callNames(change.acquiresGone)} --> ${callNames(change.acquiresNew)}`;
  const [gone, added] = [releasesNamed(change.releasesGone), releasesNamed(change.releasesNew)];
  if (gone.length && added.length) return `convert ${callNames(gone)} --> ${callNames(added)}`;
  return 'convert get_user_pages*() --> pin_user_pages*()';
}

const arrow = (s: string) => s.replace(/\s*→\s*/g, ' -> ');

/** Why each intended difference is fine, for the reviewer. */
const WHY: Record<string, string> = {
  'already-dirty-skipped': 'Dirtying a page that is already dirty does nothing useful; the release helper skips it.',
  'SetPageDirty-to-mapping':
    'SetPageDirty() only set the page flag; a file-backed page must be dirtied through its mapping, so that the file system knows about the new data.',
  'set_page_dirty-to-lock': 'set_page_dirty() on a file-backed page needs the page lock, which the release helper takes.',
};

export interface BodyInput {
  api: TargetApi;
  change: CallChange;
  /** Keys of INTENDED_DIFFERENCES reported for the patch's groups. */
  differences: readonly string[];
  /** Exported functions the converted pages pass through. */
  exported?: readonly string[];
  /** The files' own functions renamed with the conversion. */
  renamed?: readonly Renamed[];
}

/** The commit message body (without the subject and Signed-off-by), wrapped at 75 columns. */
export function body({ api, change, differences, exported = [], renamed = [] }: BodyInput): string {
  const paras: string[] = [];
  const target = versionLabel(api.version);
  const relGone = list(change.releasesGone);
  const relNew = list(change.releasesNew);
  if (api.family === 'pin') {
    const acquire = change.acquiresGone.length
      ? `Convert ${list(change.acquiresGone)} to ${list(change.acquiresNew)}`
      : 'Move the release of pinned pages to the FOLL_PIN API';
    paras.push(relGone && relNew ? `${acquire}, and release the pages with ${relNew} instead of ${relGone}.` : `${acquire}.`);
    paras.push(
      'These pages are held while their contents are read or written (by a device through DMA, or by the kernel), ' +
        'not just referenced. Such pages must be pinned with FOLL_PIN: a pinned page is reported by ' +
        'page_maybe_dma_pinned(), so file systems and writeback can tell that its data may still change, ' +
        'which a plain page reference (FOLL_GET) does not show. ' +
        'See Documentation/core-api/pin_user_pages.rst for the rules.',
    );
    paras.push(`This uses the pin_user_pages*() and unpin_user_page*() API as of Linux ${target}.`);
  } else {
    paras.push(`Release the pages that get_user_pages*() returns with ${relNew || 'put_user_page*()'} instead of ${relGone || 'put_page()'}.`);
    paras.push(
      'These pages are held while their contents are read or written (by a device through DMA, or by the kernel). ' +
        'Such pages are to be tracked as pinned (FOLL_PIN), and put_user_page*() marks the places that release them: ' +
        'on this kernel it still drops a plain page reference, and the switch to pinning ' +
        'will not have to find these call sites again.',
    );
    paras.push(`This uses the put_user_page*() API of Linux ${target}; the pages are still acquired with get_user_pages*().`);
  }
  if (exported.length)
    paras.push(
      `${list(exported)} ${exported.length === 1 ? 'is' : 'are'} exported: code outside the tree that releases these pages itself ` +
        (api.family === 'pin' ? 'must switch to unpin_user_page*() too, or the pins leak.' : 'should switch to put_user_page*() too.'),
    );
  for (const r of renamed)
    paras.push(
      `${r.path ? `${r.path.split('/').at(-1)} has` : 'This file has'} its own static ${r.from}(), which would clash with the kernel's ` +
        `${r.from}() and capture the calls meant for it: rename it to ${r.to}().`,
    );
  const blocks = paras.map((p) => fill(p));
  if (differences.length) {
    const items = differences.map((d) => {
      const text = INTENDED_DIFFERENCES[d as keyof typeof INTENDED_DIFFERENCES] ?? d;
      return fill(`- ${arrow(text)}.${WHY[d] ? ` ${WHY[d]}` : ''}`, 75, '', '  ');
    });
    blocks.push(`${fill('The conversion changes behaviour on purpose, as the page simulator of gup2pin reports for this patch:')}\n${items.join('\n')}`);
  }
  return blocks.join('\n\n');
}
