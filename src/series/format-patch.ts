/**
 * Mail-ready patch files laid out byte for byte like `git format-patch --thread --cover-letter`
 * (git 2.39): `From <id>` line, Message-Id/In-Reply-To/References, From/Date/Subject (folded and
 * RFC 2047-encoded as git does), To/Cc, message, `---`, diffstat, diffs with index lines, and
 * the `-- ` signature.
 */
import { createHash } from 'node:crypto';
import { diffHunks, fileHeader } from '../emit/diff.ts';
import type { FuncnameRule } from '../emit/funcname.ts';
import { diffstat, type FileStat } from './diffstat.ts';
import type { Identity } from './identity.ts';
import { gitWrap } from './wrap.ts';

/** `git hash-object`: sha1 of "blob <length>\0<content>". */
export function blobId(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

export interface FileChange {
  /** Relative to the repository root, forward slashes. */
  path: string;
  before: string;
  after: string;
  /** Git file mode, default 100644. */
  mode?: string;
  /** How hunks name their function (the file's `diff` attribute), default git's default rule. */
  funcname?: FuncnameRule;
  /** Hex digits of the blob ids in the `index` line (the repository's abbreviation), default 7. */
  abbrev?: number;
}

/** One file's `diff --git` section with its `index` line, and its diffstat counts. */
export function fileDiff(change: FileChange): { text: string; stat: FileStat } {
  const { path, before, after } = change;
  const { lines, added, deleted } = diffHunks(before, after, change.funcname);
  const abbrev = change.abbrev ?? 7;
  const index = `${blobId(before).slice(0, abbrev)}..${blobId(after).slice(0, abbrev)} ${change.mode ?? '100644'}`;
  const text = [...fileHeader(path, index), ...lines].join('\n');
  return { text: `${text}\n`, stat: { path, added, deleted } };
}

export function slug(subject: string): string {
  let out = '';
  let space = 2;
  const title = /[A-Za-z0-9._]/;
  for (let i = 0; i < subject.length; i++) {
    const c = subject[i] === '\n' ? ' ' : subject[i];
    if (title.test(c)) {
      if (space === 1) out += '-';
      space = 0;
      out += c;
      if (c === '.') while (subject[i + 1] === '.') i++;
    } else space |= 1;
  }
  return out.replace(/[.-]+$/, '');
}

/** format-patch's default --filename-max-length. */
const PATCH_NAME_MAX = 64;
const SUFFIX = '.patch';

/** `0001-<slug>.patch`, `v2-0001-<slug>.patch`; the cover letter is number 0. */
export function patchFileName(n: number, subject: string, version?: number): string {
  const reroll = version === undefined ? '' : `${slug(`v${version}`)}-`;
  const name = n === 0 ? `${reroll}0000-cover-letter` : `${reroll}${String(n).padStart(4, '0')}-${slug(subject)}`;
  return name.slice(0, PATCH_NAME_MAX - (SUFFIX.length + 1)) + SUFFIX;
}

/** `[PATCH v2 01/12]` as format-patch numbers it (zero-padded to the width of the total). */
export function subjectTag(prefix: string, version: number | undefined, n?: number, total?: number): string {
  const v = version === undefined ? '' : ` v${version}`;
  const num = n === undefined || total === undefined ? '' : ` ${String(n).padStart(String(total).length, '0')}/${total}`;
  return `[${prefix}${v}${num}]`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 2822 date as git prints it: `Sat, 1 Nov 2025 18:44:26 +0100` (day not padded). */
export function rfc2822Date(date: Date, offsetMinutes: number): string {
  const t = new Date(date.getTime() + offsetMinutes * 60_000);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const tz = `${sign}${p2(Math.floor(abs / 60))}${p2(abs % 60)}`;
  return `${DAYS[t.getUTCDay()]}, ${t.getUTCDate()} ${MONTHS[t.getUTCMonth()]} ${t.getUTCFullYear()} ${p2(t.getUTCHours())}:${p2(t.getUTCMinutes())}:${p2(t.getUTCSeconds())} ${tz}`;
}

export const nonAscii = (s: string) => /[^\x00-\x7f]/.test(s);

/** git's needs_rfc2047_encoding(). */
const needsRfc2047 = (s: string) => nonAscii(s) || s.includes('\n') || s.includes('=?');

/**
 * git's add_rfc2047(): Q-encoding, folded before 76 columns. `column` is where the encoded word
 * starts on its line; an address phrase escapes more characters than a subject.
 */
function rfc2047(text: string, column: number, kind: 'address' | 'subject'): string {
  const max = 76;
  let out = '=?UTF-8?q?';
  let lineLen = column + 'UTF-8'.length + 5;
  for (const ch of text) {
    const bytes = Buffer.from(ch, 'utf8');
    const b = bytes[0];
    let special = bytes.length > 1 || b < 0x20 || b > 0x7e || /[\s=?_]/.test(ch);
    if (!special && kind === 'address') special = !/[A-Za-z0-9!*+\-/]/.test(ch);
    const encoded = special ? [...bytes].map((x) => `=${x.toString(16).toUpperCase().padStart(2, '0')}`).join('') : ch;
    if (lineLen + encoded.length + 2 > max) {
      out += '?=\n =?UTF-8?q?';
      lineLen = 'UTF-8'.length + 5 + 1;
    }
    out += encoded;
    lineLen += encoded.length;
  }
  return `${out}?=`;
}

const RFC822_SPECIALS = /[()<>@,;:\\".[\]]/;

/** The From: header as git's pp_user_info() writes it (quoted or encoded name, folded at 78). */
export function fromHeader(id: Identity): string {
  const lead = 'From: ';
  let max = 78;
  let out: string;
  if (needsRfc2047(id.name)) {
    out = lead + rfc2047(id.name, lead.length, 'address');
    max = 76;
  } else {
    const name = RFC822_SPECIALS.test(id.name) ? `"${id.name.replace(/(["\\])/g, '\\$1')}"` : id.name;
    out = lead + gitWrap(name, -lead.length, 1, max);
  }
  const lastLine = out.slice(out.lastIndexOf('\n') + 1);
  if (max < lastLine.length + ' <'.length + id.email.length + '>'.length) out += '\n';
  return `${out} <${id.email}>`;
}

/** `Subject: [PATCH 1/2] …`, folded at 78 columns (or RFC 2047-encoded) like git's pp_title_line(). */
export function subjectHeader(tag: string, subject: string): string {
  const lead = `Subject: ${tag} `;
  return lead + (needsRfc2047(subject) ? rfc2047(subject, lead.length, 'subject') : gitWrap(subject, -lead.length, 1, 78));
}

/** `To: a,\n    b` as format-patch writes its --to/--cc headers. */
export function addressHeader(name: 'To' | 'Cc', addresses: readonly string[]): string {
  return addresses.length ? `${name}: ${addresses.join(',\n    ')}\n` : '';
}

export interface MailHeaders {
  /** The id on the mbox `From <id> Mon Sep 17 00:00:00 2001` line. */
  commitId: string;
  messageId: string;
  /** The message this one answers (the cover letter, or the first patch without one). */
  inReplyTo?: string;
  from: Identity;
  /** RFC 2822. */
  date: string;
  /** `[PATCH v2 1/3]` */
  tag: string;
  subject: string;
  to: readonly string[];
  cc: readonly string[];
  /** The message has non-ASCII text: declare UTF-8 (format-patch does the same). */
  eightBit: boolean;
}

export function mailHeaders(h: MailHeaders): string {
  let out = `From ${h.commitId} Mon Sep 17 00:00:00 2001\n`;
  out += `Message-Id: <${h.messageId}>\n`;
  if (h.inReplyTo) out += `In-Reply-To: <${h.inReplyTo}>\nReferences: <${h.inReplyTo}>\n`;
  out += `${fromHeader(h.from)}\nDate: ${h.date}\n${subjectHeader(h.tag, h.subject)}\n`;
  if (h.eightBit) out += 'MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n';
  return out + addressHeader('To', h.to) + addressHeader('Cc', h.cc);
}

/** One patch mail: headers, message, `---`, diffstat, diffs, optional base, signature. */
export function renderPatch(headers: MailHeaders, message: string, diffs: ReadonlyArray<{ text: string; stat: FileStat }>, signature: string, base?: string): string {
  let out = `${mailHeaders(headers)}\n${message.replace(/\n*$/, '\n')}---\n`;
  out += `${diffstat(diffs.map((d) => d.stat))}\n`;
  out += diffs.map((d) => d.text).join('');
  if (base) out += `\nbase-commit: ${base}\n`;
  return `${out}-- \n${signature}\n\n`;
}

export interface ShortlogEntry {
  author: string;
  subject: string;
}

/** The cover letter's shortlog: `Name (n):` and each subject wrapped at 72 (indent 2, then 4). */
export function shortlog(entries: readonly ShortlogEntry[]): string {
  const byAuthor = new Map<string, string[]>();
  for (const e of entries) byAuthor.set(e.author, [...(byAuthor.get(e.author) ?? []), e.subject]);
  // git sorts authors by name; subjects stay in series order.
  return [...byAuthor.keys()]
    .sort()
    .map((a) => `${a} (${byAuthor.get(a)!.length}):\n${byAuthor.get(a)!.map((s) => `${gitWrap(s, 2, 4, 72)}\n`).join('')}\n`)
    .join('');
}

/** The cover letter: blurb, shortlog, overall diffstat, optional base, signature. */
export function renderCoverLetter(headers: MailHeaders, blurb: string, entries: readonly ShortlogEntry[], stats: readonly FileStat[], signature: string, base?: string): string {
  let out = `${mailHeaders(headers)}\n${blurb.replace(/\n*$/, '\n')}\n${shortlog(entries)}${diffstat(stats)}\n`;
  if (base) out += `\nbase-commit: ${base}\n`;
  return `${out}-- \n${signature}\n\n`;
}

/** A commit-like id: sha1 over a commit object made of the parent, author, date and patch. */
export function commitLikeId(parent: string, author: Identity, epoch: number, tz: string, message: string, diff: string): string {
  const tree = createHash('sha1').update(diff).digest('hex');
  const ident = `${author.name} <${author.email}> ${epoch} ${tz}`;
  const body = `tree ${tree}\nparent ${parent}\nauthor ${ident}\ncommitter ${ident}\n\n${message}`;
  return createHash('sha1').update(`commit ${Buffer.byteLength(body)}\0${body}`).digest('hex');
}
