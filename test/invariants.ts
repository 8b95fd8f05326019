/**
 * Invariants every conversion must keep, whatever the input: the output parses no worse than the
 * input, and it differs from the input only inside the edits the planner reported. Shared by the
 * property tests, the fuzzer and the whole-tree script.
 */
import { parseC } from '../src/parse/kernel-c.ts';
import { loweredEdits } from '../src/sim/edited.ts';
import { lowerFile, type Func } from '../src/sim/lower.ts';
import { isRealError, type FileAnalysis } from '../src/sites/groups.ts';

export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/**
 * ERROR and MISSING nodes of `text` as the project parses it, except the MISSING `;` after an
 * iterator macro header (`for_each_sg(…) {`), which every such loop has.
 */
export function errorNodeCount(text: string): number {
  const tree = parseC(text);
  return tree.hasError ? tree.rootNode.descendants().filter(isRealError).length : 0;
}

const lineAt = (text: string, offset: number) => {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
};

const show = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

/**
 * undefined when `output` is exactly `original` with `edits` applied (so every byte outside the
 * edit ranges is kept, in order); otherwise one line naming the first difference. The edits are
 * applied here independently of the planner's applyEdits, so a bug there shows too.
 */
export function collateral(original: string, output: string, edits: ReadonlyArray<TextEdit>): string | undefined {
  // Insertions before a replacement at the same offset, as MagicString's appendLeft places them.
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  // The expected output as pieces, each either original bytes or an edit's text.
  const pieces: Array<{ text: string; from?: number; edit?: TextEdit }> = [];
  let at = 0;
  for (const e of sorted) {
    if (e.start < at || e.end < e.start || e.end > original.length)
      return `edit [${e.start}, ${e.end}) at line ${lineAt(original, e.start)} overlaps another or lies outside the text`;
    pieces.push({ text: original.slice(at, e.start), from: at }, { text: e.text, edit: e });
    at = e.end;
  }
  pieces.push({ text: original.slice(at), from: at });
  let out = 0;
  for (const p of pieces) {
    const got = output.slice(out, out + p.text.length);
    if (got !== p.text) {
      let i = 0;
      while (i < got.length && got[i] === p.text[i]) i++;
      const where = `output offset ${out + i} (line ${lineAt(output, out + i)})`;
      if (p.edit) return `${where}: edit [${p.edit.start}, ${p.edit.end}) should write ${show(p.text.slice(i))}, output has ${show(got.slice(i))}`;
      const src = p.from! + i;
      return `${where}: original offset ${src} (line ${lineAt(original, src)}) outside every edit changed: ${show(p.text.slice(i))} became ${show(got.slice(i))}`;
    }
    out += p.text.length;
  }
  if (out !== output.length) return `output offset ${out} (line ${lineAt(output, out)}): ${output.length - out} bytes more than the edits account for: ${show(output.slice(out))}`;
  return undefined;
}

/** Both invariants: undefined, or the first broken one. */
export function checkConversion(original: string, output: string, edits: ReadonlyArray<TextEdit>): string | undefined {
  const moved = collateral(original, output, edits);
  if (moved) return `collateral change: ${moved}`;
  if (output === original) return undefined;
  const before = errorNodeCount(original);
  const after = errorNodeCount(output);
  return after > before ? `the output parses worse: ${after} error nodes, ${before} before` : undefined;
}

/** A lowered program as data: callees by name, globals by name (numbering is per lowering). */
export const programShape = (funcs: ReadonlyMap<string, Func>) =>
  JSON.stringify([...funcs.values()], (key, value) => {
    if (key === 'callee') return value?.name;
    if (key === 'global' || key === 'line' || key === 'end') return undefined;
    return value instanceof Map ? [...value] : value;
  });

/**
 * Where a function's statements are, as data: the lines coverage counts in. A function a
 * conversion left as it was keeps the original's lines (it is the same lowering), so this is
 * compared for the changed ones.
 */
export const spanShape = (f: Func) =>
  JSON.stringify(f.body, (key, value) => {
    if (key === 'callee' || key === 'global' || key === 'e' || key === 'c' || key === 'u' || key === 'vars' || key === 'args' || key === 'cases') return undefined;
    return value instanceof Map ? undefined : value;
  });

/**
 * undefined when the program the simulator runs for a conversion, lowered from its edits (the
 * edited statements swapped into the original's lowering), is the one a parse of the whole
 * output gives; else why not.
 */
export function editedLowering(analysis: FileAnalysis, output: string, edits: ReadonlyArray<TextEdit>): string | undefined {
  const edited = loweredEdits(analysis, edits);
  if (!edited) return undefined;
  const whole = lowerFile(parseC(output).rootNode);
  for (const [name, f] of whole) if (programShape(new Map([[name, f]])) !== programShape(new Map([[name, edited.funcs.get(name)!]]))) return `lowered from the edits, ${name}() is not what a parse of the whole output gives`;
  return edited.funcs.size === whole.size ? undefined : 'lowered from the edits, the program has other functions than a parse of the whole output';
}
