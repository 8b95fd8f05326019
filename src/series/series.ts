/**
 * `gup2pin series`: converted files → a patch series a kernel maintainer can apply unedited,
 * laid out like `git format-patch --cover-letter --thread`, addressed like get_maintainer.pl.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { funcnameRule } from '../emit/funcname.ts';
import type { TargetApi } from '../target.ts';
import { inVocabularyOrder, type ConvertedFile } from './converted.ts';
import { coverBlurb, coverSubject } from './cover.ts';
import { commitLikeId, fileDiff, patchFileName, renderCoverLetter, renderPatch, rfc2822Date, subjectTag, type MailHeaders, nonAscii } from './format-patch.ts';
import { abbrevLength, isGitCheckout, logSubjects, resolveCommit, type GitContext } from './git.ts';
import { byPath, groupFiles, type PatchGroup, type Split } from './grouping.ts';
import { identityLine, resolveIdentity, type Identity } from './identity.ts';
import { loadMaintainers, type Maintainers } from './maintainers.ts';
import { body, callChange, summary } from './message.ts';
import { prefixFromHistory, prefixFromPath, prefixFromSection } from './prefix.ts';
import { addRecipients, recipientsForPatch, unionRecipients, type Recipients } from './recipients.ts';
import { TOOL_SIGNATURE } from './version.ts';

export interface SeriesOptions {
  target: TargetApi;
  /** `Name <email>`: author and Signed-off-by (else git's user.name/user.email in `root`). */
  from?: string;
  /** Added to every mail's To/Cc. */
  to?: string[];
  cc?: string[];
  /** Default `PATCH`. */
  subjectPrefix?: string;
  /** Reroll count (`-v 2`: `[PATCH v2 1/3]`, `v2-0001-….patch`). */
  version?: number;
  /** `--base REV`: a commit id, or a revision git resolves in `root`. */
  base?: string;
  /** A MAINTAINERS file to use instead of `root`/MAINTAINERS. */
  maintainersFile?: string;
  /** Default true. */
  coverLetter?: boolean;
  /** Default 'section' ('dir' when there is no MAINTAINERS). */
  split?: Split;
  /** The repository / kernel tree root the paths are relative to. */
  root?: string;
  /** Environment for git (history, identity, --base). */
  gitEnv?: NodeJS.ProcessEnv;
  /** The clock: Date headers, Message-Ids. */
  date?: Date;
  /** Offset from UTC for the Date headers, in minutes (default: the local zone's). */
  utcOffsetMinutes?: number;
  /** Every conversion was checked by the simulator (the cover letter says so). Default true. */
  verified?: boolean;
}

export interface Mail {
  fileName: string;
  text: string;
  subject: string;
  to: string[];
  cc: string[];
  /** Paths the patch changes (empty for the cover letter). */
  files: string[];
}

export interface Series {
  cover?: Mail;
  patches: Mail[];
}

/** --base names nothing git knows. */
export class SeriesError extends Error {}

interface Draft {
  group: PatchGroup;
  subject: string;
  message: string;
  diffs: ReturnType<typeof fileDiff>[];
}

export function buildSeries(files: readonly ConvertedFile[], options: SeriesOptions): Series {
  const root = options.root ?? process.cwd();
  const git: GitContext = { root, env: options.gitEnv };
  const maintainers = loadMaintainers(root, options.maintainersFile);
  const split = options.split ?? (maintainers ? 'section' : 'dir');
  const groups = groupFiles(files, split, maintainers);
  if (!groups.length) return { patches: [] };
  const identity = resolveIdentity(options.from, git);

  const base = options.base === undefined ? undefined : resolveCommit(git, options.base);
  if (options.base !== undefined && !base) throw new SeriesError(`--base ${options.base}: not a commit in ${root}`);
  const history = isGitCheckout(git);
  const abbrev = history ? abbrevLength(git) : 7;
  const drafts = groups.map((group) => draft(group, options.target, identity, history ? git : undefined, root, abbrev));

  const coverLetter = options.coverLetter ?? true;
  const date = options.date ?? new Date();
  const offset = options.utcOffsetMinutes ?? -date.getTimezoneOffset();
  const epoch = Math.floor(date.getTime() / 1000);
  const dateHeader = rfc2822Date(date, offset);
  const tz = dateHeader.slice(-5); // ±hhmm
  const prefix = options.subjectPrefix ?? 'PATCH';
  const signature = TOOL_SIGNATURE;
  const numbered = drafts.length > 1 || coverLetter;
  const total = drafts.length;
  const coverId = `cover.${epoch}.git.${identity.email}`;
  const common = { from: identity, date: dateHeader };

  let parent = base ?? '0'.repeat(40);
  let firstId: string | undefined;
  const patches = drafts.map((d, i): Mail => {
    const diffText = d.diffs.map((x) => x.text).join('');
    const commitId = commitLikeId(parent, identity, epoch, tz, `${d.subject}\n\n${d.message}`, diffText);
    parent = commitId;
    const messageId = `${commitId}.${epoch}.git.${identity.email}`;
    const inReplyTo = coverLetter ? coverId : firstId;
    firstId ??= messageId;
    const lastWithBase = !coverLetter && i === total - 1 ? base : undefined;
    const render = (r: Recipients) => {
      const headers: MailHeaders = {
        ...common,
        commitId,
        messageId,
        inReplyTo,
        tag: subjectTag(prefix, options.version, numbered ? i + 1 : undefined, numbered ? total : undefined),
        subject: d.subject,
        to: r.to,
        cc: r.cc,
        eightBit: nonAscii(d.subject + d.message),
      };
      return renderPatch(headers, d.message, d.diffs, signature, lastWithBase);
    };
    const { text, recipients } = addressed(render, maintainers, options);
    return { fileName: patchFileName(i + 1, d.subject, options.version), text, subject: d.subject, ...recipients, files: d.group.files.map((f) => f.path) };
  });

  if (!coverLetter) return { patches };
  const allChange = callChange(drafts.flatMap((d) => d.group.files));
  const subject = coverSubject(options.target, allChange);
  const blurb = coverBlurb({ api: options.target, files, split, verified: options.verified ?? true });
  const recipients = unionRecipients(patches);
  const headers: MailHeaders = {
    ...common,
    // format-patch puts the last commit's id on the cover letter.
    commitId: parent,
    messageId: coverId,
    tag: subjectTag(prefix, options.version, 0, total),
    subject,
    ...recipients,
    eightBit: nonAscii(subject + blurb),
  };
  const entries = drafts.map((d) => ({ author: identity.name, subject: d.subject }));
  // The overall diffstat is base..head: every file once, in path order.
  const stats = drafts.flatMap((d) => d.diffs.map((x) => x.stat)).sort((a, b) => byPath(a.path, b.path));
  const text = renderCoverLetter(headers, blurb, entries, stats, signature, base);
  return { cover: { fileName: patchFileName(0, subject, options.version), text, subject, ...recipients, files: [] }, patches };
}

/** Write the series into `dir` (created if needed); returns the paths written, in order. */
export function writeSeries(series: Series, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return [...(series.cover ? [series.cover] : []), ...series.patches].map((mail) => {
    const path = join(dir, mail.fileName);
    writeFileSync(path, mail.text);
    return path;
  });
}

function draft(group: PatchGroup, api: TargetApi, identity: Identity, git: GitContext | undefined, root: string, abbrev: number): Draft {
  const paths = group.files.map((f) => f.path);
  const change = callChange(group.files);
  const prefix =
    (git && prefixFromHistory(logSubjects(git, paths))) ??
    (group.section && prefixFromSection(group.section, paths)) ??
    prefixFromPath(paths[0]);
  const subject = `${prefix}: ${summary(change)}`;
  const differences = inVocabularyOrder(group.files.flatMap((f) => f.differences));
  const exported = [...new Set(group.files.flatMap((f) => f.exported ?? []))].sort();
  const renamed = group.files.flatMap((f) => f.renamed ?? []);
  const message = `${body({ api, change, differences, exported, renamed })}\n\nSigned-off-by: ${identityLine(identity)}\n`;
  const diffs = group.files.map((f) => fileDiff({ path: f.path, before: f.before, after: f.after, mode: modeOf(root, f.path), funcname: funcnameRule(root, f.path), abbrev }));
  return { group, subject, message, diffs };
}

/**
 * To/Cc as get_maintainer.pl would compute them from the finished patch. Its K: keywords also
 * match the To/Cc lines themselves, so render until the addresses stop changing.
 */
function addressed(render: (r: Recipients) => string, maintainers: Maintainers | undefined, options: SeriesOptions): { text: string; recipients: Recipients } {
  let recipients = addRecipients({ to: [], cc: [] }, options.to, options.cc);
  let text = render(recipients);
  if (!maintainers) return { text, recipients };
  for (let round = 0; round < 4; round++) {
    const next = addRecipients(recipientsForPatch(maintainers, text), options.to, options.cc);
    if (sameRecipients(next, recipients)) break;
    recipients = next;
    text = render(recipients);
  }
  return { text, recipients };
}

const sameRecipients = (a: Recipients, b: Recipients) => a.to.join('\n') === b.to.join('\n') && a.cc.join('\n') === b.cc.join('\n');

/** 100755 for an executable file in the tree, else git's regular-file mode. */
function modeOf(root: string, path: string): string {
  try {
    return statSync(join(root, path)).mode & 0o111 ? '100755' : '100644';
  } catch {
    return '100644';
  }
}

