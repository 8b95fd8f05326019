/**
 * A linked unit: several files of one kernel tree analysed as one translation unit, so that a pin
 * group whose acquire and releases live in different files (a helper pair in one file, the
 * callers that keep the pages in a struct in another) is seen whole. The files' texts are joined
 * with a newline between them; everything downstream (provenance, planning, the simulator) works
 * on the joined text unchanged, and offsets and lines map back to the file they came from.
 */
import type { Edit } from '../../transforms/index.ts';
import { normalise, restore, type Normalised } from '../parse/endings.ts';
import { newlines } from '../parse/lines.ts';
import { applyEdits } from '../plan/plan.ts';

export interface UnitFile {
  /** Absolute path. */
  path: string;
  /** As shown to the user (relative to --root). */
  display: string;
  /** As read. */
  text: string;
}

export interface Segment extends UnitFile {
  /** The file's text with its line endings normalised (CRLF read as LF): what the joined text holds. */
  text: string;
  /** The file as read (`endings.raw`), and where its CRLF endings were. */
  endings: Normalised;
  /** Offset of the file's first byte in the joined text. */
  start: number;
  /** Offset just past its last byte (the joining newline is not part of it). */
  end: number;
  /** Row (0-based) of its first line in the joined text. */
  row: number;
}

export interface Unit {
  text: string;
  segments: Segment[];
}

/**
 * Joins the files in the given order, each with its line endings normalised (a CRLF partner file
 * reads as LF). A file not ending in a newline gets one in the joined text only, so that no
 * declaration runs into the next file's first line.
 */
export function joinUnit(files: UnitFile[]): Unit {
  const segments: Segment[] = [];
  let text = '';
  let row = 0;
  for (const f of files) {
    const endings = normalise(f.text);
    const start = text.length;
    text += endings.text;
    segments.push({ ...f, text: endings.text, endings, start, end: text.length, row });
    row += newlines(endings.text);
    if (!endings.text.endsWith('\n')) {
      text += '\n';
      row++;
    }
  }
  return { text, segments };
}

/** The segment holding a joined-text offset. */
export function segmentAt(unit: Unit, offset: number): Segment {
  let lo = 0;
  let hi = unit.segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (unit.segments[mid].start <= offset) lo = mid;
    else hi = mid - 1;
  }
  return unit.segments[lo];
}

/** The segment holding a joined-text line (1-based), and the line within its file. */
export function locateLine(unit: Unit, line: number): { segment: Segment; line: number } {
  let seg = unit.segments[0];
  for (const s of unit.segments) if (s.row < line) seg = s;
  return { segment: seg, line: line - seg.row };
}

/**
 * The edits of the joined text split per file, offsets made file-relative. An edit that would
 * cross from one file into the next is a bug of ours: it throws rather than write a torn file.
 */
export function splitEdits(unit: Unit, edits: readonly Edit[]): Map<Segment, Edit[]> {
  const out = new Map<Segment, Edit[]>();
  for (const e of edits) {
    const seg = segmentAt(unit, e.start);
    if (e.end > seg.end) throw new Error(`an edit at ${seg.display} runs past the end of the file`);
    let list = out.get(seg);
    if (!list) out.set(seg, (list = []));
    list.push({ start: e.start - seg.start, end: e.end - seg.start, text: e.text });
  }
  return out;
}

/** The bytes of one file of the unit after its `edits` (file-relative), each line's ending kept. */
export function restoreSegment(seg: Segment, edits: readonly Edit[]): string {
  try {
    return restore(seg.endings, edits, applyEdits(seg.text, [...edits]));
  } catch (e) {
    // Which file of the unit it was: the failure is reported for the whole unit.
    throw new Error(`${seg.display}: ${(e as Error).message}`);
  }
}
