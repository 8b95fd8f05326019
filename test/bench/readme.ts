/**
 * `--readme FILE`: the benchmark's Markdown replaces what lies between two marker comments of the
 * README, so its table is the bench's output, not a copy edited by hand. The file is replaced
 * whole (temp file, rename), so an interrupted write leaves the old README.
 */
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';

export const BENCH_BEGIN = '<!-- bench:begin -->';
export const BENCH_END = '<!-- bench:end -->';

export class ReadmeMarkersError extends Error {}

/**
 * `readme` with the text between the marker lines replaced by `table`; `name` is for the errors.
 * A marker is a line of its own, so prose can name the markers.
 */
export function replaceBenchTable(readme: string, table: string, name: string): string {
  const begin = markerLines(readme, BENCH_BEGIN);
  const end = markerLines(readme, BENCH_END);
  if (!begin.length && !end.length)
    throw new ReadmeMarkersError(`${name} has no ${BENCH_BEGIN} and ${BENCH_END} lines: put them around the benchmark table it should replace`);
  if (begin.length !== 1 || end.length !== 1)
    throw new ReadmeMarkersError(`${name} needs one ${BENCH_BEGIN} line and one ${BENCH_END} line (it has ${begin.length} and ${end.length})`);
  if (end[0].start < begin[0].start) throw new ReadmeMarkersError(`${name} has its ${BENCH_END} line before its ${BENCH_BEGIN} line`);
  const body = table.endsWith('\n') ? table : `${table}\n`;
  return `${readme.slice(0, begin[0].next)}${body}${readme.slice(end[0].start)}`;
}

/** Replaces the table in the README `file`: whole or not at all. */
export function updateReadme(file: string, table: string): void {
  const updated = replaceBenchTable(readFileSync(file, 'utf8'), table, file);
  // Beside the file, so the rename stays on its filesystem and is atomic.
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, updated, { mode: statSync(file).mode });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Checks the README before a run of minutes whose result it could not take. */
export function checkReadme(file: string): void {
  replaceBenchTable(readFileSync(file, 'utf8'), '', file);
}

/** The lines that are `marker` (but for trailing blanks): where each starts, and where the next one does. */
function markerLines(text: string, marker: string): Array<{ start: number; next: number }> {
  const found: Array<{ start: number; next: number }> = [];
  for (let start = 0; start < text.length; ) {
    const newline = text.indexOf('\n', start);
    const next = newline === -1 ? text.length : newline + 1;
    if (text.slice(start, next).trimEnd() === marker) found.push({ start, next });
    start = next;
  }
  return found;
}
