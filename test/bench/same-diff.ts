/**
 * The result cache must not change gup2pin's output: a warm run prints the cold run's diff byte
 * for byte. This says where two diffs part, for the bench's error.
 */

/** Undefined when `warm` is `cold`; else the first line where they differ, quoted. */
export function firstDifference(cold: string, warm: string): string | undefined {
  if (cold === warm) return undefined;
  const coldLines = cold.split('\n');
  const warmLines = warm.split('\n');
  let i = 0;
  while (coldLines[i] === warmLines[i]) i++;
  const quote = (line: string | undefined) => (line === undefined ? 'end of output' : JSON.stringify(line));
  return `line ${i + 1}: cold has ${quote(coldLines[i])}, warm has ${quote(warmLines[i])}`;
}
