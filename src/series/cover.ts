/** The cover letter's subject and text: what the series does, how it was made, what it left alone. */
import { versionLabel, type TargetApi } from '../target.ts';
import type { ConvertedFile } from './converted.ts';
import type { Split } from './grouping.ts';
import { callNames, type CallChange } from './message.ts';
import { fill } from './wrap.ts';

const PER: Record<Split, string> = { section: 'MAINTAINERS section', dir: 'directory', file: 'file' };

export function coverSubject(api: TargetApi, change: CallChange): string {
  if (api.family === 'pin' && change.acquiresGone.length && change.acquiresNew.length)
    return `convert ${callNames(change.acquiresGone)} users to ${callNames(change.acquiresNew)}`;
  if (api.family === 'pin') return 'move pinned page releases to unpin_user_page*()';
  return 'release get_user_pages*() pages with put_user_page*()';
}

export interface BlurbInput {
  api: TargetApi;
  files: readonly ConvertedFile[];
  split: Split;
  /** The simulator compared every conversion (verification was on). */
  verified: boolean;
}

export function coverBlurb({ api, files, split, verified }: BlurbInput): string {
  const target = versionLabel(api.version);
  const groups = files.reduce((n, f) => n + (f.after === f.before ? 0 : f.converted.length), 0);
  const sites = groups === 1 ? '1 place that holds' : `${groups} places that hold`;
  const paras: string[] = [];
  paras.push(
    api.family === 'pin'
      ? `This series converts ${sites} user pages while their contents are read or written (DMA, or the kernel itself) ` +
          'from get_user_pages*() and put_page() to pin_user_pages*() and unpin_user_page*(), the FOLL_PIN API ' +
          `(Documentation/core-api/pin_user_pages.rst), as of Linux ${target}.`
      : `This series releases the pages of ${groups === 1 ? '1 place that uses' : `${groups} places that use`} get_user_pages*() with put_user_page*() instead of put_page(), ` +
          `as of Linux ${target}, marking the release sites for the switch to FOLL_PIN.`,
  );
  paras.push(`There is one patch per ${PER[split]}; the patches do not depend on each other.`);
  paras.push(
    'The patches were made by gup2pin, which links every get_user_pages*() call to all of the releases of its pages ' +
      'and converts them together, or not at all.' +
      (verified
        ? ' Each conversion was run before and after in its page/DMA simulator: the same references and pins are held ' +
          'at the end, the same pages are dirtied, and the same calls are made in the same order; the differences ' +
          'that are intended are named in the patches.' +
          (files.some((f) => f.after !== f.before && f.unverified?.length) ? ' The conversions it could not model are listed below.' : '')
        : ''),
  );
  const blocks = paras.map((p) => fill(p));
  const entries = (title: string, lines: string[]) => {
    if (lines.length) blocks.push(`${fill(title)}\n${lines.map((l) => fill(l, 75, '  ', '      ')).join('\n')}`);
  };
  entries(
    'Converted, but the simulator could not model the code (please review these with extra care):',
    files.flatMap((f) => (f.after === f.before ? [] : (f.unverified ?? []).map((u) => `${f.path}:${u.line}: ${u.reason}`))),
  );
  entries(
    'Not converted, with the reason:',
    files.flatMap((f) => f.refused.map((r) => `${f.path}:${r.line}: ${r.code}: ${r.message}`)),
  );
  return blocks.join('\n\n');
}
