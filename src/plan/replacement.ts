/**
 * A release rewrite described independently of the target kernel, and its rendering for a
 * target API level (fixtures/README.md, conventions 1–7).
 */
import type { TargetApi } from '../target.ts';

/** How the original code dirtied the pages before releasing them. */
export interface Dirty {
  /** C expression text for make_dirty: 'true' for an unconditional dirty. */
  when: string;
  /** The dirtying call that was replaced, for naming intended differences. */
  via: 'set_page_dirty_lock' | 'SetPageDirty' | 'set_page_dirty' | 'put_user_pages_dirty_lock';
  /** The original already skipped pages that were dirty (`!PageDirty(p) && …`). */
  skippedDirty?: boolean;
}

export type Replacement =
  | {
      kind: 'bulk';
      /** Byte range of the statement (or loop) replaced. */
      start: number;
      end: number;
      array: string;
      count: string;
      dirty?: Dirty;
      /** Wrap in `if (count > 0)`: the count may be a negative errno here (H6). */
      guardNegative?: boolean;
    }
  | {
      kind: 'single';
      start: number;
      end: number;
      /** The page expression as written (`page`, `pages[i]`, `*p`, `sg_page(sg)`). */
      page: string;
      dirty?: Dirty;
    };

export class RenderRefusal {
  constructor(readonly message: string) {}
}

/** `&x` for a page lvalue `x`; undefined if `x` is not addressable. */
export function addressOf(page: string): string | undefined {
  const t = page.trim();
  if (/^\*\s*\(?\s*([A-Za-z_][\w>.-]*)\s*\)?$/.test(t)) return t.replace(/^\*\s*/, '');
  if (/^[A-Za-z_][\w]*((->|\.)[A-Za-z_]\w*|\[[^\]]+\])*$/.test(t)) return `&${t}`;
  return undefined;
}

/** Rendered statement text (first line unindented; later lines carry `indent`). */
export function render(rep: Replacement, api: TargetApi, indent: string): string | RenderRefusal {
  const interim = api.family === 'interim';
  const one = interim ? 'put_user_page' : 'unpin_user_page';
  const many = interim ? 'put_user_pages' : 'unpin_user_pages';
  const dirtyMany = interim ? 'put_user_pages_dirty_lock' : 'unpin_user_pages_dirty_lock';

  // The dirty helper always takes an array: a single page passes `&page, 1`.
  let array = rep.kind === 'bulk' ? rep.array : '';
  const count = rep.kind === 'bulk' ? rep.count : '1';
  const plain = rep.kind === 'bulk' ? `${many}(${array}, ${count});` : `${one}(${rep.page});`;
  if (rep.kind === 'single' && rep.dirty) {
    const addr = addressOf(rep.page);
    if (!addr) return new RenderRefusal(`cannot take the address of '${rep.page}' for ${dirtyMany}()`);
    array = addr;
  }

  let body: string[];
  if (!rep.dirty) body = [plain];
  else if (!interim || api.dirtyLockTakesMakeDirty) body = [`${dirtyMany}(${array}, ${count}, ${rep.dirty.when});`];
  else if (rep.dirty.when === 'true') body = [`${dirtyMany}(${array}, ${count});`];
  else
    // 5.3's put_user_pages_dirty_lock() has no make_dirty argument.
    body = [`if (${rep.dirty.when})`, `\t${dirtyMany}(${array}, ${count});`, 'else', `\t${plain}`];

  if (rep.kind === 'bulk' && rep.guardNegative) {
    const compound = body.length > 1;
    body = compound
      ? [`if (${rep.count} > 0) {`, ...body.map((l) => `\t${l}`), '}']
      : [`if (${rep.count} > 0)`, `\t${body[0]}`];
  }
  return body
    .flatMap((l) => wrapCall(l, indent))
    .map((l, i) => (i === 0 ? l : indent + l))
    .join('\n');
}

/** Documentation/process/coding-style.rst: the preferred limit on the length of a line. */
const MAX_COLUMNS = 80;

/** Display width with 8-column tabs. */
function columns(text: string): number {
  let w = 0;
  for (const ch of text) w = ch === '\t' ? w + 8 - (w % 8) : w + 1;
  return w;
}

/** Arguments split at the commas outside any bracket. */
function splitArguments(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out;
}

/**
 * A call statement too long for 80 columns, broken after commas with the continuation lines
 * aligned with the open parenthesis, as checkpatch --strict wants. `line` is relative to
 * `indent` (tabs); other lines, and indents with spaces, are returned as they are.
 */
function wrapCall(line: string, indent: string): string[] {
  const m = /^(\t*)([A-Za-z_]\w*\()(.*)\);$/.exec(line);
  if (!m || columns(indent + line) <= MAX_COLUMNS || /[^\t]/.test(indent)) return [line];
  const head = m[1] + m[2];
  const open = columns(indent + head);
  const continuation = '\t'.repeat(Math.floor(open / 8) - indent.length) + ' '.repeat(open % 8);
  const args = splitArguments(m[3]);
  const lines: string[] = [];
  let current = head;
  args.forEach((arg, i) => {
    const tail = i === args.length - 1 ? ');' : ',';
    const fresh = current === head || current === continuation;
    const joined = fresh ? current + arg : `${current} ${arg}`;
    if (fresh || columns(indent + joined + tail) <= MAX_COLUMNS) current = joined;
    else {
      lines.push(current);
      current = continuation + arg;
    }
    current += tail;
  });
  lines.push(current);
  return lines;
}
