/**
 * The files spatch changed and gup2pin did not, and why gup2pin left them: `gup2pin scan --json`
 * on those files, and a tally of the diagnostic codes of the groups it did not convert (refused:
 * their codes; already pinned; put_page() loops whose pages are not from GUP: `notGup`). These
 * are the changes a purely syntactic rule makes that gup2pin considers wrong or unproven.
 */
import { spawnSync } from 'node:child_process';

/** The part of `gup2pin scan --json` this reads. */
interface ScanJson {
  files: Array<{
    path: string;
    groups: Array<{ line: number; verdict: string; diagnostics: Array<{ code: string; line: number; message: string }> }>;
    notGup: Array<{ code: string; line: number; message: string }>;
  }>;
}

export interface Refusal {
  code: string;
  /** Groups (or notGup sites) with this code, in the files counted. */
  sites: number;
  files: Set<string>;
  /** The first site with this code: `file:line: message`. */
  example: string;
}

export interface SpatchComparison {
  spatchFiles: number;
  /** Files both tools changed. */
  both: number;
  /** Files gup2pin changed and spatch did not. */
  gup2pinOnly: string[];
  /** Files spatch changed and gup2pin did not. */
  spatchOnly: string[];
  /** Why gup2pin left the spatchOnly files, most frequent code first. */
  refusals: Refusal[];
}

/** A file with no pin group gup2pin left alone (e.g. get_user_pages_fast(…, NULL): no pages kept). */
export const NO_GROUP = '(no pin group)';

export function compareWithSpatch(spatchFiles: Set<string>, gup2pinFiles: Set<string>, scanFiles: (files: string[]) => ScanJson): SpatchComparison {
  const spatchOnly = [...spatchFiles].filter((f) => !gup2pinFiles.has(f)).sort();
  const gup2pinOnly = [...gup2pinFiles].filter((f) => !spatchFiles.has(f)).sort();
  const scan = spatchOnly.length ? scanFiles(spatchOnly) : { files: [] };
  return {
    spatchFiles: spatchFiles.size,
    both: spatchFiles.size - spatchOnly.length,
    gup2pinOnly,
    spatchOnly,
    refusals: tallyRefusals(spatchOnly, scan),
  };
}

/** `gup2pin scan --json FILES…` run in `tree` (verification on, as `diff` does). */
export function gup2pinScan(gup2pinBin: string, tree: string, jobs: number): (files: string[]) => ScanJson {
  return (files) => {
    const r = spawnSync('node', [gup2pinBin, 'scan', '--json', '--quiet', '--jobs', String(jobs), ...files], {
      cwd: tree,
      encoding: 'utf8',
      maxBuffer: 256 << 20,
    });
    // Exit 2 means some path could not be read; the JSON still covers the others.
    if (r.status === null || r.status > 2 || !r.stdout) throw new Error(`gup2pin scan --json exited with ${r.status}:\n${r.stderr}`);
    return JSON.parse(r.stdout) as ScanJson;
  };
}

function tallyRefusals(files: string[], scan: ScanJson): Refusal[] {
  const byCode = new Map<string, Refusal>();
  const count = (code: string, file: string, line: number | undefined, message: string) => {
    let r = byCode.get(code);
    if (!r) byCode.set(code, (r = { code, sites: 0, files: new Set(), example: `${file}${line ? `:${line}` : ''}: ${message}` }));
    r.sites++;
    r.files.add(file);
  };
  const scanned = new Map(scan.files.map((f) => [normalizePath(f.path), f]));
  for (const file of files) {
    const report = scanned.get(file);
    let found = false;
    for (const g of report?.groups ?? []) {
      if (g.verdict === 'converted') continue;
      found = true;
      if (g.verdict !== 'refused') count(g.verdict, file, g.line, g.verdict);
      // A group refused for several reasons counts once under each of its codes.
      const codes = new Map(g.diagnostics.map((d) => [d.code, d]));
      for (const d of codes.values()) count(d.code, file, d.line, d.message);
    }
    for (const d of report?.notGup ?? []) {
      found = true;
      count(d.code, file, d.line, d.message);
    }
    if (!found) count(NO_GROUP, file, undefined, 'gup2pin finds no pages kept from a get_user_pages*() call here');
  }
  return [...byCode.values()].sort((a, b) => b.sites - a.sites || a.code.localeCompare(b.code));
}

/** Tree-relative path without a leading `./`. */
export function normalizePath(path: string): string {
  return path.replace(/^(\.\/)+/, '');
}
