/**
 * acquire: `get_user_pages*()` → `pin_user_pages*()` for the target (rule 6 of
 * fixtures/README.md). Same arguments, except: FOLL_GET dropped; get_user_pages_longterm()
 * folds into FOLL_LONGTERM; an old `int write`/`force` pair becomes gup_flags (never a constant
 * — the SEV over-conversion, H11); `tsk` kept before 5.9, dropped from 5.9; a NULL `vmas`
 * dropped from 6.5 (a real vmas array is refused). On interim targets (5.3–5.5) the name stays
 * get_user_pages*() and only the arguments are brought up to date.
 */
import type { TargetApi } from '../src/target.ts';
import { versionLabel } from '../src/target.ts';
import type { AcquireCall } from '../src/sites/dataflow.ts';
import type { Refusal, TransformMeta } from '../src/plan/transform.ts';

export interface Edit {
  start: number;
  end: number;
  text: string;
}

export const meta: TransformMeta = {
  name: 'acquire',
  description: 'get_user_pages*() becomes pin_user_pages*() with target-correct arguments',
  example: 'get_user_pages_fast(addr, n, FOLL_WRITE, pages)  →  pin_user_pages_fast(addr, n, FOLL_WRITE, pages)',
};

const FLAGS_NAME_RE = /(^|[_>.])(gup_flags|foll_flags|flags|gup|foll)$/i;

/** gup_flags text for an old `int write` argument. */
function writeToFlags(write: string): string {
  const w = write.trim();
  if (w === '0') return '0';
  if (w === '1') return 'FOLL_WRITE';
  const simple = /^[!\w>.-]+$/.test(w) && !/-(?!>)/.test(w);
  return `${simple ? w : `(${w})`} ? FOLL_WRITE : 0`;
}

/** `flags` as the left operand of `|`: a conditional needs parentheses. */
const orOperand = (flags: string) => (flags.includes('?') ? `(${flags})` : flags);

function forceToFlags(force: string): string | undefined {
  const f = force.trim();
  if (f === '0') return undefined;
  if (f === '1') return 'FOLL_FORCE';
  return `(${f} ? FOLL_FORCE : 0)`;
}

/** Is the 3rd argument of a fast-GUP call an old `int write` rather than gup_flags? */
function isIntWrite(arg: string): boolean {
  const a = arg.trim();
  if (/\bFOLL_/.test(a)) return false;
  if (/^[A-Za-z_][\w>.-]*$/.test(a)) return !FLAGS_NAME_RE.test(a);
  return true;
}

function dropFollGet(flags: string): string {
  const out = flags
    .replace(/\bFOLL_GET\s*\|\s*/g, '')
    .replace(/\s*\|\s*FOLL_GET\b/g, '')
    .replace(/^\s*FOLL_GET\s*$/, '0');
  return out;
}

export function rewriteAcquire(acq: AcquireCall, api: TargetApi, text: string): Edit[] | Refusal {
  const { layout, args } = acq;
  const pin = api.family === 'pin';
  const variant = layout.variant;
  const target = versionLabel(api.version);
  if (pin && (variant === 'user_pages_unlocked' || variant === 'user_pages_fast_only') && !api.hasPinUnlockedAndFastOnly)
    return { refuse: 'target-api', message: `pin_${variant}() does not exist on ${target} (added in 5.8)` };
  if (pin && variant === 'user_pages_locked' && !api.hasPinLocked)
    return { refuse: 'target-api', message: `pin_user_pages_locked() does not exist on ${target}` };

  const argText = (i: number | undefined) => (i === undefined ? undefined : args[i]?.text);
  let flags: string;
  let flagsChanged = false;
  if (layout.write !== undefined) {
    flags = writeToFlags(args[layout.write].text);
    const force = layout.force !== undefined ? forceToFlags(args[layout.force].text) : undefined;
    if (force) flags = flags === '0' ? force : `${orOperand(flags)} | ${force}`;
    flagsChanged = true;
  } else {
    flags = args[layout.flags!].text;
    if ((variant === 'user_pages_fast' || acq.name === '__get_user_pages_fast') && isIntWrite(flags)) {
      flags = writeToFlags(flags);
      flagsChanged = true;
    }
  }
  if (layout.impliedLongterm) {
    flags = `${orOperand(flags)} | FOLL_LONGTERM`;
    flagsChanged = true;
  }
  if (pin) {
    const dropped = dropFollGet(flags);
    if (dropped !== flags) (flags = dropped), (flagsChanged = true);
  }
  const longterm = /\bFOLL_LONGTERM\b/.test(flags);
  if (variant === 'user_pages_remote' && longterm && !api.remoteAcceptsLongterm)
    return { refuse: 'target-api', message: `get_user_pages_remote() rejects FOLL_LONGTERM before 5.6 (target ${target})` };
  const locked = argText(layout.locked);
  if (variant === 'user_pages_remote' && longterm && locked && locked.trim() !== 'NULL' && pin)
    return { refuse: 'target-api', message: 'pin_user_pages_remote() rejects FOLL_LONGTERM with a non-NULL locked' };

  const hasVmas = variant === 'user_pages' || variant === 'user_pages_remote';
  if (variant === 'user_pages' && layout.task !== undefined)
    return { refuse: 'unsupported-acquire', message: 'get_user_pages(tsk, mm, …) predates 4.6: make it get_user_pages_remote() first' };
  const vmas = argText(layout.vmas);
  if (hasVmas && !api.takesVmas && vmas && vmas.trim() !== 'NULL')
    return { refuse: 'vmas', message: `the vmas argument '${vmas.trim()}' is used, and ${target} has no vmas argument (use get_user_page_vma_remote())` };

  // Argument edits in place, so a multi-line call keeps its layout.
  const edits: Edit[] = [];
  const remove = (i: number) =>
    edits.push(i > 0
      ? { start: args[i - 1].endIndex, end: args[i].endIndex, text: '' }
      : { start: args[0].startIndex, end: args[1].startIndex, text: '' });
  const insertAfter = (i: number, t: string) => edits.push({ start: args[i].endIndex, end: args[i].endIndex, text: `, ${t}` });
  if (variant === 'user_pages_remote') {
    if (layout.task !== undefined && !api.remoteTakesTask) remove(layout.task);
    if (layout.task === undefined && api.remoteTakesTask)
      edits.push({ start: args[0].startIndex, end: args[0].startIndex, text: 'NULL, ' });
  }
  const flagsAt = layout.write ?? layout.flags!;
  if (flagsChanged) edits.push({ start: args[flagsAt].startIndex, end: args[flagsAt].endIndex, text: flags });
  if (layout.force !== undefined) remove(layout.force);
  if (hasVmas && layout.vmas !== undefined && !api.takesVmas) remove(layout.vmas);
  if (hasVmas && layout.vmas === undefined && api.takesVmas) insertAfter(layout.pages, 'NULL');
  if ((variant === 'user_pages_remote' || variant === 'user_pages_locked') && layout.locked === undefined)
    insertAfter(args.length - 1, 'NULL');

  const name = `${pin ? 'pin' : 'get'}_${variant}`;
  const newName = !pin && acq.name === '__get_user_pages_fast' ? acq.name : name;
  const fnNode = acq.call.childForFieldName('function')!;
  if (newName !== acq.name) edits.push({ start: fnNode.startIndex, end: fnNode.endIndex, text: newName });
  const delta = newName.length - acq.name.length;
  if (delta !== 0) {
    const overlaps = (r: Edit) => edits.some((e) => r.start < e.end && e.start < r.end);
    edits.push(...realign(acq, delta, text).filter((r) => !overlaps(r)));
  }
  return edits;
}

export const visualWidth = (s: string) => [...s].reduce((w, ch) => (ch === '\t' ? w + 8 - (w % 8) : w + 1), 0);
export const whitespaceFor = (col: number) => '\t'.repeat(Math.floor(col / 8)) + ' '.repeat(col % 8);

/** Keep continuation lines aligned under the open parenthesis when the name changes length. */
function realign(acq: AcquireCall, delta: number, text: string): Edit[] {
  const list = acq.call.childForFieldName('arguments')!;
  const lineStart = text.lastIndexOf('\n', list.startIndex - 1) + 1;
  const parenCol = visualWidth(text.slice(lineStart, list.startIndex));
  const edits: Edit[] = [];
  for (let i = text.indexOf('\n', list.startIndex); i >= 0 && i < list.endIndex; i = text.indexOf('\n', i + 1)) {
    const ws = /^[ \t]*/.exec(text.slice(i + 1))![0];
    if (visualWidth(ws) !== parenCol + 1) continue;
    edits.push({ start: i + 1, end: i + 1 + ws.length, text: whitespaceFor(parenCol + 1 + delta) });
  }
  return edits;
}
