/**
 * Who a patch goes to, computed the way `scripts/get_maintainer.pl --nogit --nogit-fallback
 * --norolestats PATCH` picks people, then split: To = maintainers (M:), Cc = reviewers (R:) and
 * lists (L:). The patch text matters, not just its files: K: keywords match the mail headers and
 * commit message, and the +/- lines of the diff.
 */
import { formatEmail, mailmapEmail, parseEmail, sectionsForFile, type Maintainers, type Section } from './maintainers.ts';
import { byPath } from './grouping.ts';
import { perlRegExp } from './perl-regex.ts';

export interface Recipients {
  to: string[];
  cc: string[];
}

/** get_maintainer.pl leaves these out unless asked (--git-chief-penguins). */
const CHIEF_PENGUINS = [['Linus Torvalds', 'torvalds@linux-foundation.org']];

/** The files and keyword sections get_maintainer.pl reads out of a patch. */
export function scanPatch(maintainers: Maintainers, patch: string): { files: string[]; keywordSections: Section[] } {
  const files: string[] = [];
  const keywords = maintainers.sections.flatMap((section) =>
    section.entries.filter((e) => e.type === 'K').map((e) => ({ section, index: e.index, value: e.value })),
  );
  const hit = new Set<(typeof keywords)[number]>();
  // Until the first ---/+++ header the whole intro (headers, message, diffstat) is searched;
  // after it, only added and removed lines.
  let prefix = '';
  for (const line of patch.split('\n')) {
    let m;
    if ((m = /^ mode change [0-7]+ => [0-7]+ (\S+)\s*$/.exec(line))) files.push(m[1]);
    else if ((m = /^rename (?:from|to) (\S+)\s*$/.exec(line))) files.push(m[1]);
    else if ((m = /^diff --git a\/(\S+) b\/(\S+)\s*$/.exec(line))) files.push(m[1], m[2]);
    else if (/^Fixes:\s+[0-9a-fA-F]{6,40}/.test(line)) continue;
    else if ((m = /^\+\+\+\s+(\S+)/.exec(line) ?? /^---\s+(\S+)/.exec(line))) {
      files.push(m[1].replace(/^[^/]*\//, ''));
      prefix = '^[+-].*';
    } else if (/^@@ -\d+,\d+/.test(line)) continue;
    else for (const k of keywords) if (!hit.has(k) && perlRegExp(k.value, prefix)?.test(line)) hit.add(k);
  }
  // Perl sorts the keyword lines' indices as strings.
  const keywordSections = [...hit].sort((a, b) => (String(a.index) < String(b.index) ? -1 : 1)).map((k) => k.section);
  return { files: [...new Set(files)].sort(byPath), keywordSections };
}

interface Person {
  email: string;
  /** M: in some matching section (get_maintainer.pl keeps only the first role it saw). */
  maintainer: boolean;
  /** The name and address it was first pushed with, for get_maintainer.pl's in-use test. */
  name: string;
  address: string;
}

/** Recipients of a patch, from its text. */
export function recipientsForPatch(maintainers: Maintainers, patch: string): Recipients {
  const { files, keywordSections } = scanPatch(maintainers, patch);
  const sections = files.flatMap((f) => sectionsForFile(maintainers, f).map((m) => m.section));
  return recipientsForSections(maintainers, [...sections, ...keywordSections]);
}

/** Recipients of a change to `files` (get_maintainer.pl -f, without keyword matching). */
export function recipientsForFiles(maintainers: Maintainers, files: readonly string[]): Recipients {
  const sections = [...new Set(files)].sort(byPath).flatMap((f) => sectionsForFile(maintainers, f).map((m) => m.section));
  return recipientsForSections(maintainers, sections);
}

function recipientsForSections(maintainers: Maintainers, sections: readonly Section[]): Recipients {
  const people: Person[] = [];
  const lists: string[] = [];
  const seenList = new Set<string>();
  const inUse = (name: string, address: string) =>
    people.find((p) => (name && p.name.toLowerCase() === name.toLowerCase()) || (address && p.address.toLowerCase() === address.toLowerCase()));
  const push = (value: string, maintainer: boolean) => {
    for (const one of splitAddresses(value)) {
      const [name, address] = parseEmail(one);
      if (!address) continue;
      const known = inUse(name, address);
      if (known) known.maintainer ||= maintainer;
      else people.push({ email: formatEmail(name, address), maintainer, name, address });
    }
  };
  for (const section of sections) {
    for (const e of section.entries) {
      if (e.type === 'M') push(e.value, true);
      else if (e.type === 'R') push(e.value, false);
      else if (e.type === 'L') {
        const m = /^(\S+)\s+(.*)$/.exec(e.value);
        const [address, note] = m ? [m[1], m[2]] : [e.value, ''];
        // Subscribers-only lists reject mail from non-members: get_maintainer.pl skips them.
        if (/subscribers-only/.test(note) || seenList.has(address.toLowerCase())) continue;
        seenList.add(address.toLowerCase());
        lists.push(address);
      }
    }
  }
  const dedupe = deduplicator(maintainers);
  for (const p of people) p.email = dedupe(p.email);
  // An L: line that is not an address ("L: Mali DP Maintainers <…>" takes the first word)
  // comes out empty: get_maintainer.pl prints a blank line, a mail header must not.
  const listEmails = lists.map(dedupe).filter(Boolean);
  const chiefs = CHIEF_PENGUINS.map(([name, address]) => new RegExp(formatEmail(name, address)));
  const kept = people.filter((p) => !chiefs.some((re) => re.test(p.email)));
  const to = unique(kept.filter((p) => p.maintainer).map((p) => p.email));
  const cc = unique([...kept.filter((p) => !p.maintainer).map((p) => p.email), ...listEmails]).filter((e) => !to.includes(e));
  return { to, cc };
}

/** An M:/R: value with several comma-separated addresses (commas in quotes or <> excepted). */
function splitAddresses(value: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"' && value[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && c === '<') depth++;
    else if (!quoted && c === '>') depth--;
    else if (!quoted && depth === 0 && c === ',') {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts.length > 1 && parts.every((p) => p.includes('@')) ? parts : [value];
}

/** get_maintainer.pl's deduplicate_email(): one spelling per name and per address, mailmapped. */
function deduplicator(maintainers: Maintainers): (email: string) => string {
  const byName = new Map<string, [string, string]>();
  const byAddress = new Map<string, [string, string]>();
  return (email) => {
    const mapped = mailmapEmail(maintainers.mailmap, formatEmail(...parseEmail(email)));
    let [name, address] = parseEmail(mapped);
    const known = (name && byName.get(name.toLowerCase())) || byAddress.get(address.toLowerCase());
    if (known) [name, address] = known;
    else {
      byName.set(name.toLowerCase(), [name, address]);
      byAddress.set(address.toLowerCase(), [name, address]);
    }
    return mailmapEmail(maintainers.mailmap, formatEmail(name, address));
  };
}

const unique = (xs: string[]) => [...new Set(xs)];

/** Add the user's --to/--cc; an address already present (any spelling of it) is not repeated. */
export function addRecipients(base: Recipients, to: readonly string[] = [], cc: readonly string[] = []): Recipients {
  const address = (e: string) => parseEmail(e)[1].toLowerCase() || e.toLowerCase();
  const seen = new Set([...base.to, ...base.cc].map(address));
  const extra = (xs: readonly string[]) =>
    xs.filter((e) => {
      const a = address(e);
      if (seen.has(a)) return false;
      seen.add(a);
      return true;
    });
  const moreTo = extra(to);
  const moreCc = extra(cc);
  return { to: [...base.to, ...moreTo], cc: [...base.cc, ...moreCc] };
}

/** The cover letter's recipients: everyone any patch goes to, To winning over Cc. */
export function unionRecipients(all: readonly Recipients[]): Recipients {
  const to = unique(all.flatMap((r) => r.to));
  const cc = unique(all.flatMap((r) => r.cc)).filter((e) => !to.includes(e));
  return { to, cc };
}
