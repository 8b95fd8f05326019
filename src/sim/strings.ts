/**
 * One copy of each text the runs keep. The runs of a session go the same way for most of their
 * length and make the same decisions and log lines; a run is kept until it is compared, so
 * without this a session holding a hundred long runs (a loop spinning to the step limit) keeps a
 * hundred copies of every key and line, and the collector copies them all.
 */
const kept = new Map<string, string>();

/** Beyond this many texts the table starts again: it saves memory, it must not hoard it. */
const MAX_KEPT = 1 << 18;

/** The kept copy of `text` (equal to it: only which copy is kept changes). */
export function keep(text: string): string {
  const known = kept.get(text);
  if (known !== undefined) return known;
  if (kept.size >= MAX_KEPT) kept.clear();
  kept.set(text, text);
  return text;
}

/** Let the kept copies go (the runs that shared them are done). */
export function forgetKept(): void {
  kept.clear();
}
