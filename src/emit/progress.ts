/**
 * A one-line progress display on stderr for long runs (a whole tree): files scanned of the
 * total, files with GUP calls and pin groups found so far, rate and ETA. Only on a terminal:
 * a redirected stderr gets nothing, so logs and tests stay clean.
 */
const REDRAW_MS = 100;

export interface ProgressCounts {
  scanned: number;
  /** Files with pin groups (or non-GUP release loops) so far. */
  matched: number;
  groups: number;
}

export class Progress {
  private readonly started = performance.now();
  private drawn = 0;
  private width = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly total: number,
  ) {}

  /** Drawn only for a person watching: a terminal, and not --quiet. */
  static wanted(out: NodeJS.WriteStream, quiet: boolean): boolean {
    return !quiet && out.isTTY === true;
  }

  update(c: ProgressCounts): void {
    const now = performance.now();
    if (now - this.drawn < REDRAW_MS) return;
    this.drawn = now;
    const seconds = (now - this.started) / 1000;
    const rate = c.scanned / Math.max(seconds, 1e-3);
    const eta = rate > 0 ? (this.total - c.scanned) / rate : 0;
    const line = `gup2pin: ${c.scanned}/${this.total} files, ${c.matched} with GUP calls, ${c.groups} pin group${c.groups === 1 ? '' : 's'}, ${Math.round(rate)} files/s, ETA ${eta.toFixed(1)} s`;
    this.out.write(`\r${line.padEnd(this.width)}`);
    this.width = line.length;
  }

  /** Erase the line: the summary that follows takes its place. */
  clear(): void {
    if (this.width) this.out.write(`\r${' '.repeat(this.width)}\r`);
    this.width = 0;
  }
}
