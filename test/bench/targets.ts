/**
 * The targets of issue 18, for the whole tree (2-core machine, warm page cache): a cold gup2pin
 * run within 5× ripgrep's time measured in the same run, a warm one within 2×, and at most 400 MB
 * of peak RSS. A subdirectory's section has none: its ratios are for information.
 */
import { GUP2PIN_COLD, GUP2PIN_WARM, megabytes, ratioLabel, RIPGREP, times, type Target, type ToolResult } from './report.ts';

const MAX_COLD_RIPGREP_RATIO = 5;
const MAX_WARM_RIPGREP_RATIO = 2;
const MAX_PEAK_RSS_KB = 400 * 1024;

export const PEAK_RSS_LABEL = 'gup2pin peak RSS (cold and warm)';

/** The targets of the section of `subdir`: the ratios when ripgrep was measured, and the memory. */
export function targetsFor(subdir: string, tools: ToolResult[]): Target[] {
  if (subdir !== '.') return [];
  const summary = (tool: string) => tools.find((t) => t.tool === tool)?.summary;
  const [cold, warm, ripgrep] = [summary(GUP2PIN_COLD)!, summary(GUP2PIN_WARM)!, summary(RIPGREP)];
  const targets: Target[] = [];
  if (ripgrep) {
    const againstRipgrep = (tool: string, medianWall: number, limit: number): Target => ({
      label: ratioLabel({ numerator: tool, denominator: RIPGREP }),
      value: medianWall / ripgrep.medianWall,
      limit,
      bound: 'max',
      format: times,
    });
    targets.push(againstRipgrep(GUP2PIN_COLD, cold.medianWall, MAX_COLD_RIPGREP_RATIO), againstRipgrep(GUP2PIN_WARM, warm.medianWall, MAX_WARM_RIPGREP_RATIO));
  }
  targets.push({ label: PEAK_RSS_LABEL, value: Math.max(cold.peakRssKb, warm.peakRssKb), limit: MAX_PEAK_RSS_KB, bound: 'max', format: megabytes });
  return targets;
}
