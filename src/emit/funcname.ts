/**
 * The function name git writes after a hunk's `@@ … @@`: the nearest line above the hunk that its
 * funcname rule accepts. Which rule is the file's `diff` attribute's: the Linux tree's
 * .gitattributes says `*.c diff=cpp` and `*.h diff=cpp`, whose rule skips goto labels, so `git
 * diff` in a kernel checkout heads a hunk below `out_unpin:` with the function, not the label.
 * Without the attribute, git's default rule takes any line starting with a letter, `_` or `$`.
 */
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { leaves } from '../discover/root.ts';

/** git's default funcname rule, or its built-in `cpp` diff driver's (userdiff.c, git 2.39). */
export type FuncnameRule = 'default' | 'cpp';

/** Bytes git keeps of a function line (xemit.c's buffer). */
const MAX_BYTES = 80;

/** A goto label or an access declaration (`public:`), alone or before a comment: never a function line to `cpp`. */
const CPP_NOT = /^[ \t]*[A-Za-z_][A-Za-z_0-9]*:[ \t\n\v\f\r]*($|\/[/*])/;
/** Functions, variables and compounds at top level. */
const CPP_FUNC = /^((::[ \t\n\v\f\r]*)?[A-Za-z_].*)$/;

/** What git writes for `line` under `rule`, or undefined if the rule does not take the line. */
export function functionLine(line: string, rule: FuncnameRule): string | undefined {
  if (rule === 'default') {
    if (!/^[A-Za-z_$]/.test(line)) return undefined;
    // The line with its newline, cut at 80 bytes, then trailing whitespace dropped (a CR too).
    return trimmed(`${line}\n`);
  }
  // The regex rules see the line without its newline and CR.
  const bare = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (CPP_NOT.test(bare)) return undefined;
  const m = CPP_FUNC.exec(bare);
  return m ? trimmed(m[1]) : undefined;
}

const trimmed = (text: string) => Buffer.from(text, 'utf8').subarray(0, MAX_BYTES).toString('utf8').replace(/\s+$/, '');

/**
 * The rule for `file` (a path under `root`, the top of the tree), from the `diff` attribute the
 * .gitattributes files from `root` down to the file's directory give it: the last line that
 * matches wins, and a deeper file's over a shallower one's. Only `diff=cpp` changes the rule; a
 * `-diff` (binary) file is diffed as text anyway, and drivers of the user's git config are not
 * looked for.
 */
export function funcnameRule(root: string, file: string): FuncnameRule {
  const rel = relative(root, join(root, file));
  if (leaves(rel)) return 'default';
  const parts = rel.split(sep);
  let value: string | undefined;
  for (let depth = 0; depth < parts.length; depth++) {
    const dir = parts.slice(0, depth);
    const below = parts.slice(depth).join('/');
    for (const { pattern, anchored, diff } of attributesIn(join(root, ...dir))) if (pattern.test(anchored ? below : parts.at(-1)!)) value = diff;
  }
  return value === 'cpp' ? 'cpp' : 'default';
}

interface DiffAttribute {
  pattern: RegExp;
  /** A pattern with a `/` matches the path below the .gitattributes' directory, else a basename. */
  anchored: boolean;
  /** The `diff` attribute's value: a driver's name, `set`, `unset`, or undefined (`!diff`). */
  diff: string | undefined;
}

const read = new Map<string, DiffAttribute[]>();

/** The lines of `dir`'s .gitattributes that say something of `diff`, in file order. */
function attributesIn(dir: string): DiffAttribute[] {
  let found = read.get(dir);
  if (found) return found;
  found = [];
  let text = '';
  try {
    text = readFileSync(join(dir, '.gitattributes'), 'utf8');
  } catch {
    // None here.
  }
  for (const line of text.split(/\r?\n/)) {
    const [glob, ...attrs] = line.trim().split(/\s+/);
    if (!glob || glob.startsWith('#') || glob.startsWith('!')) continue;
    let diff: string | undefined | null = null;
    for (const a of attrs) {
      if (a === 'diff') diff = 'set';
      else if (a === '-diff' || a === 'binary') diff = 'unset';
      else if (a === '!diff') diff = undefined;
      else if (a.startsWith('diff=')) diff = a.slice(5);
    }
    if (diff !== null) found.push({ pattern: globPattern(glob), anchored: glob.includes('/'), diff });
  }
  read.set(dir, found);
  return found;
}

/**
 * A gitattributes pattern as a regular expression (git's wildmatch with FNM_PATHNAME): `*` and `?`
 * do not cross a `/`, `**` crosses any number; a leading `/` only anchors the pattern.
 */
function globPattern(glob: string): RegExp {
  const g = glob.startsWith('/') ? glob.slice(1) : glob;
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c === '*' && g[i + 1] === '*') {
      const slash = g[i + 2] === '/';
      re += slash ? '(?:.*\\/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = g.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = g.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else if (c === '/') re += '\\/';
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Forgets the .gitattributes read (tests write them between runs of one process). */
export function forgetAttributes(): void {
  read.clear();
}
