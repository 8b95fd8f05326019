/**
 * The diffstat block exactly as git format-patch prints it (diff.c show_stats() and
 * print_stat_summary() with --stat-width=72, git's mail default): reviewers and tools such as
 * patchwork read it, so it must not merely look alike.
 */

export interface FileStat {
  path: string;
  added: number;
  deleted: number;
}

/** format-patch's stat width (MAIL_DEFAULT_WRAP). */
export const MAIL_STAT_WIDTH = 72;

const decimalWidth = (n: number) => String(n).length;

/** git's scale_linear(): at least one column for any change. */
const scaleLinear = (it: number, width: number, maxChange: number) => (it ? 1 + Math.floor((it * (width - 1)) / maxChange) : 0);

export function diffstatLines(files: readonly FileStat[], width = MAIL_STAT_WIDTH): string[] {
  const shown = files.filter((f) => f.added + f.deleted > 0);
  if (!shown.length) return [];
  const maxLen = Math.max(...shown.map((f) => [...f.path].length));
  const maxChange = Math.max(...shown.map((f) => f.added + f.deleted));
  const numberWidth = decimalWidth(maxChange);
  if (width < 16 + 6 + numberWidth) width = 16 + 6 + numberWidth;
  let graphWidth = maxChange;
  let nameWidth = maxLen;
  if (nameWidth + numberWidth + 6 + graphWidth > width) {
    // C integer arithmetic: width * 3/8 is (width * 3) / 8.
    if (graphWidth > Math.trunc((width * 3) / 8) - numberWidth - 6) {
      graphWidth = Math.trunc((width * 3) / 8) - numberWidth - 6;
      if (graphWidth < 6) graphWidth = 6;
    }
    if (nameWidth > width - numberWidth - 6 - graphWidth) nameWidth = width - numberWidth - 6 - graphWidth;
    else graphWidth = width - numberWidth - 6 - nameWidth;
  }
  return shown.map((f) => {
    let name = f.path;
    let prefix = '';
    let len = nameWidth;
    if (nameWidth < [...name].length) {
      // Keep the tail of the path, from a slash if there is one: "...ib/core/umem.c".
      prefix = '...';
      len = Math.max(len - 3, 0);
      const chars = [...name];
      name = chars.slice(chars.length - len).join('');
      const slash = name.indexOf('/');
      if (slash >= 0) name = name.slice(slash);
    }
    const padding = Math.max(len - [...name].length, 0);
    let add = f.added;
    let del = f.deleted;
    if (graphWidth <= maxChange) {
      let total = scaleLinear(add + del, graphWidth, maxChange);
      if (total < 2 && add && del) total = 2;
      if (add < del) {
        add = scaleLinear(add, graphWidth, maxChange);
        del = total - add;
      } else {
        del = scaleLinear(del, graphWidth, maxChange);
        add = total - del;
      }
    }
    const count = String(f.added + f.deleted).padStart(numberWidth);
    return ` ${prefix}${name}${' '.repeat(padding)} | ${count}${f.added + f.deleted ? ' ' : ''}${'+'.repeat(add)}${'-'.repeat(del)}`;
  });
}

/** ` 2 files changed, 3 insertions(+), 1 deletion(-)` */
export function diffstatSummary(files: readonly FileStat[]): string {
  const shown = files.filter((f) => f.added + f.deleted > 0);
  if (!shown.length) return ' 0 files changed';
  const ins = shown.reduce((s, f) => s + f.added, 0);
  const del = shown.reduce((s, f) => s + f.deleted, 0);
  let out = shown.length === 1 ? ' 1 file changed' : ` ${shown.length} files changed`;
  if (ins || !del) out += ins === 1 ? `, 1 insertion(+)` : `, ${ins} insertions(+)`;
  if (del || !ins) out += del === 1 ? `, 1 deletion(-)` : `, ${del} deletions(-)`;
  return out;
}

/** The whole block: one line per file, then the summary. */
export const diffstat = (files: readonly FileStat[], width = MAIL_STAT_WIDTH) => [...diffstatLines(files, width), diffstatSummary(files)].join('\n') + '\n';
