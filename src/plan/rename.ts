/**
 * The file's own static functions named like the API (src/sites/clash.ts), renamed out of the
 * way of the converted calls, as goldfish_pipe's `pin_user_pages()` was in the 5.6 series: in
 * `foo_dev.c`, `pin_user_pages()` becomes `foo_dev_pin_user_pages()` (`…2`, `…3` if the name is
 * taken). The edits go with the groups' conversion: the planner adds them only when one converts.
 */
import { basename } from 'node:path';
import type { Edit } from '../../transforms/index.ts';
import { visualWidth, whitespaceFor } from '../../transforms/acquire.ts';
import type { Diagnostic } from '../sites/diagnostics.ts';
import type { FileAnalysis } from '../sites/groups.ts';

export interface Rename {
  from: string;
  to: string;
  /** Line of the function's definition. */
  line: number;
}

/** `edits` rename; `realign` keeps continuation lines under a moved `(`. */
export type RenamePlan = { renames: Rename[]; edits: Edit[]; realign: Edit[] } | { refusals: Diagnostic[] };

/** `file`: the path as shown, whose name gives the new names (none: `local_…`). */
export function planRenames(analysis: FileAnalysis, file: string | undefined): RenamePlan {
  const { localApi, text } = analysis;
  // Every file that includes a header has its own copy of the function, called by its own code.
  if (file?.endsWith('.h'))
    return {
      refusals: localApi.map((f) => ({
        code: 'name-clash',
        line: f.line,
        message: `this header defines its own static ${f.name}() (line ${f.line}): the files that include it call it too, so it is not renamed, and it would capture the converted calls`,
      })),
    };
  const stem = prefixOf(file);
  const taken = new Set<string>();
  const renames: Rename[] = [];
  const edits: Edit[] = [];
  const realign: Edit[] = [];
  for (const f of localApi) {
    const base = `${stem}_${f.name}`;
    let to = base;
    for (let n = 2; taken.has(to) || new RegExp(`\\b${to}\\b`).test(text); n++) to = `${base}${n}`;
    taken.add(to);
    renames.push({ from: f.name, to, line: f.line });
    for (const u of f.uses) {
      edits.push({ start: u.start, end: u.end, text: to });
      if (u.list) realign.push(...realignList(text, u.list, to.length - f.name.length));
    }
  }
  return { renames, edits, realign };
}

/** Continuation lines of a list that were aligned under its `(`, moved by `delta` columns. */
function realignList(text: string, list: { start: number; end: number }, delta: number): Edit[] {
  const lineStart = text.lastIndexOf('\n', list.start - 1) + 1;
  const column = visualWidth(text.slice(lineStart, list.start)) + 1;
  const out: Edit[] = [];
  for (let i = text.indexOf('\n', list.start); i >= 0 && i < list.end; i = text.indexOf('\n', i + 1)) {
    const ws = /^[ \t]*/.exec(text.slice(i + 1, list.end))![0];
    if (visualWidth(ws) === column) out.push({ start: i + 1, end: i + 1 + ws.length, text: whitespaceFor(column + delta) });
  }
  return out;
}

/** `foo-dev.c` → `foo_dev`: the file's name as the start of a C identifier. */
function prefixOf(file: string | undefined): string {
  const stem = file ? basename(file).replace(/\.[^.]*$/, '').replace(/\W/g, '_') : '';
  if (!stem) return 'local';
  return /^\d/.test(stem) ? `file_${stem}` : stem;
}
