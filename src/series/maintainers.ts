/**
 * MAINTAINERS, read and matched the way scripts/get_maintainer.pl does it (our own code, same
 * semantics): F:/X: globs turned into anchored regexes, a pattern naming an existing directory
 * matching everything below it, a file pattern matching only at its own depth, N: regexes on the
 * path, K: regexes on the patch, and every matching section kept, most specific first.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cached, perlRegExp } from './perl-regex.ts';

export interface Entry {
  type: string;
  /** The value; for F:/X: already turned into get_maintainer's regex source. */
  value: string;
  /** Position among get_maintainer's type/value lines: keyword sections are ordered by it. */
  index: number;
}

export interface Section {
  /** The header line, e.g. `INFINIBAND SUBSYSTEM`. */
  name: string;
  /** Order in the file. */
  order: number;
  entries: Entry[];
}

export interface Maintainers {
  sections: Section[];
  mailmap: Mailmap;
}

/** .mailmap lookups as get_maintainer.pl keeps them. */
export interface Mailmap {
  names: Map<string, string>;
  addresses: Map<string, string>;
}

export interface ParseOptions {
  /** Does this (tree-relative) path name a directory? get_maintainer.pl asks the tree. */
  isDirectory?: (path: string) => boolean;
  /** Text of the tree's .mailmap. */
  mailmap?: string;
}

const TYPE_VALUE = /^([A-Z]):\s*(.*)$/;

/** An F:/X: glob as get_maintainer.pl's regex: `.` literal, `*` any run, `?` one character. */
export function globToPattern(glob: string, isDirectory?: (path: string) => boolean): string {
  let value = glob.replace(/\./g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.');
  // get_maintainer.pl tests the converted string, so only plain directory names qualify.
  if (isDirectory?.(value)) value = value.replace(/([^/])$/, '$1/');
  return value;
}

export function parseMaintainers(text: string, options: ParseOptions = {}): Maintainers {
  const sections: Section[] = [];
  let header: string | undefined;
  let current: Section | undefined;
  let index = 0;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const m = TYPE_VALUE.exec(line);
    if (m) {
      let value = m[2];
      if (m[1] === 'F' || m[1] === 'X') value = globToPattern(value, options.isDirectory);
      if (!current) {
        current = { name: header ?? '', order: sections.length, entries: [] };
        sections.push(current);
      }
      current.entries.push({ type: m[1], value, index: index++ });
      continue;
    }
    if (/^\s*$/.test(line) || /^\s*#/.test(line)) continue;
    // Any other line ends a section and may be the next one's header.
    header = line;
    current = undefined;
    index++;
  }
  return { sections, mailmap: parseMailmap(options.mailmap ?? '') };
}

/**
 * MAINTAINERS of the kernel tree at `root` (or the given file), with the tree's .mailmap;
 * undefined when there is none.
 */
export function loadMaintainers(root: string, file = join(root, 'MAINTAINERS')): Maintainers | undefined {
  if (!existsSync(file)) return undefined;
  const mailmapPath = join(root, '.mailmap');
  return parseMaintainers(readFileSync(file, 'utf8'), {
    isDirectory: (p) => {
      try {
        return statSync(join(root, p)).isDirectory();
      } catch {
        return false;
      }
    },
    mailmap: existsSync(mailmapPath) ? readFileSync(mailmapPath, 'utf8') : undefined,
  });
}

const slashes = (s: string) => s.split('/').length - 1;


/**
 * get_maintainer.pl's file_match_pattern(): a pattern ending in `/` matches the whole subtree;
 * any other only files with as many slashes (so `drivers/net/*` stays in that directory).
 */
export function filePatternMatches(file: string, pattern: string): boolean {
  const re = cached(`^${pattern}`);
  if (!re || !re.test(file)) return false;
  return pattern.endsWith('/') || slashes(file) === slashes(pattern);
}

/** How deep a matching F: pattern reaches; a pattern starting with `*` (THE REST) is -1. */
export function patternDepth(pattern: string): number {
  if (pattern.startsWith('.*')) return -1;
  return slashes(pattern) + (pattern.endsWith('/') ? 0 : 1);
}

export interface SectionMatch {
  section: Section;
  /** get_maintainer.pl's sort key: the depth of the section's last matching F: (N: = 0). */
  depth: number;
}

/** Every section covering `file`, most specific first (ties in file order). */
export function sectionsForFile(maintainers: Maintainers, file: string): SectionMatch[] {
  const out: SectionMatch[] = [];
  for (const section of maintainers.sections) {
    if (section.entries.some((e) => e.type === 'X' && filePatternMatches(file, e.value))) continue;
    let depth: number | undefined;
    for (const e of section.entries) {
      // As in get_maintainer.pl, a later match in the section overwrites the depth.
      if (e.type === 'F' && filePatternMatches(file, e.value)) depth = patternDepth(e.value);
      else if (e.type === 'N' && perlRegExp(e.value)?.test(file)) depth = 0;
    }
    if (depth !== undefined) out.push({ section, depth });
  }
  // Array.prototype.sort is stable: equal depths keep file order (Perl's are hash-ordered).
  return out.sort((a, b) => b.depth - a.depth);
}

/**
 * The section a patch for `file` belongs to: the most specific one, ignoring catch-alls such as
 * THE REST (`F: *`), which would lump unrelated drivers together.
 */
export function primarySection(maintainers: Maintainers, file: string): Section | undefined {
  return sectionsForFile(maintainers, file).find((m) => m.depth >= 0)?.section;
}

function parseMailmap(text: string): Mailmap {
  const map: Mailmap = { names: new Map(), addresses: new Map() };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    let m;
    if ((m = /^([^<]+)<([^>]+)>$/.exec(line))) {
      const [name, address] = parseEmail(`${m[1].trimEnd()} <${m[2]}>`);
      map.names.set(address, name);
    } else if ((m = /^<([^>]+)>\s*<([^>]+)>$/.exec(line))) {
      map.addresses.set(m[2], m[1]);
    } else if ((m = /^(.+)<([^>]+)>\s*<([^>]+)>$/.exec(line))) {
      const [name, address] = parseEmail(`${m[1].trimEnd()} <${m[2]}>`);
      map.names.set(m[3], name);
      map.addresses.set(m[3], address);
    } else if ((m = /^(.+)<([^>]+)>\s*(.+)\s*<([^>]+)>$/.exec(line))) {
      const [name, address] = parseEmail(`${m[1].trimEnd()} <${m[2]}>`);
      const [wrongName, wrongAddress] = parseEmail(`${m[3].trimEnd()} <${m[4]}>`);
      const key = formatEmail(wrongName, wrongAddress);
      map.names.set(key, name);
      map.addresses.set(key, address);
    }
  }
  return map;
}

/** get_maintainer.pl's parse_email(): [name, address], the name quoted if it needs it. */
export function parseEmail(text: string): [string, string] {
  let name = '';
  let address = '';
  let m;
  if ((m = /^([^<]+)<(.+@.*)>.*$/.exec(text))) [name, address] = [m[1], m[2]];
  else if ((m = /^\s*<(.+@\S*)>.*$/.exec(text))) address = m[1];
  else if ((m = /^(.+@\S*).*$/.exec(text))) address = m[1];
  return [quoteName(name), address.trim()];
}

/** Perl's \w on bytes: ASCII only, so a name with `.` or a non-ASCII letter is quoted. */
function quoteName(name: string): string {
  name = name.trim().replace(/^"|"$/g, '');
  if (/[^A-Za-z0-9_ -]/.test(name)) name = `"${name.replace(/(?<!\\)"/g, '\\"')}"`;
  return name;
}

/** get_maintainer.pl's format_email() with names on: `Name <address>` or `address`. */
export function formatEmail(name: string, address: string): string {
  name = quoteName(name);
  address = address.trim();
  return name ? `${name} <${address}>` : address;
}

/** get_maintainer.pl's mailmap_email(). */
export function mailmapEmail(mailmap: Mailmap, line: string): string {
  const [name, address] = parseEmail(line);
  const email = formatEmail(name, address);
  let realName = name;
  let realAddress = address;
  if (mailmap.names.has(email) || mailmap.addresses.has(email)) {
    realName = mailmap.names.get(email) ?? realName;
    realAddress = mailmap.addresses.get(email) ?? realAddress;
  } else {
    realName = mailmap.names.get(address) ?? realName;
    realAddress = mailmap.addresses.get(address) ?? realAddress;
  }
  return formatEmail(realName, realAddress);
}
