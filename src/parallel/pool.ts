/**
 * An order-keeping parallel map over worker threads. The calling thread works through the same
 * queue, so a run too small to be worth a thread never waits for one to start, and on two cores
 * one worker plus this thread keep both busy. Output order is input order whatever the timing.
 * Outcomes that are null (most files of a tree: not a candidate) never cross threads.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

export const defaultJobs = (): number => availableParallelism();

/** What a worker is started with: the whole list, the shared cursor, and the job's own data. */
export interface WorkerStart<I> {
  items: readonly I[];
  /** Int32Array over a SharedArrayBuffer: [0] is the next unclaimed item. */
  cursor: SharedArrayBuffer;
  job: unknown;
}

/** A worker's messages: outcomes by index (nulls are left out), then its summary (timings). */
export type WorkerReply<O> = { results: Array<[number, O]> } | { done: unknown };

/** Claims the next item: every thread takes from the same shared cursor, so none waits to be fed. */
export function claim(cursor: Int32Array, length: number): number {
  const i = Atomics.add(cursor, 0, 1);
  return i < length ? i : -1;
}

/** How long this thread works before it lets waiting worker replies in. */
const SLICE_MS = 5;

/**
 * `here(item)` for every item, some of them run by `jobs - 1` workers (bin/worker.js →
 * src/parallel/worker.ts) that call the same function with `job`.
 */
export interface PoolEvents<O> {
  /** Each non-null outcome as it arrives, in completion order. */
  outcome?: (o: O) => void;
  /** Now and then (when this thread looks up from its own items): how many items are claimed. */
  tick?: (claimed: number) => void;
}

export async function mapInPool<I, O>(
  items: readonly I[],
  jobs: number,
  job: unknown,
  here: (item: I) => O | null,
  on: PoolEvents<O> = {},
): Promise<{ outcomes: Array<O | null>; summaries: unknown[] }> {
  const out = new Array<O | null>(items.length).fill(null);
  const threads = Math.max(0, Math.min(jobs - 1, items.length - 1));
  const cursor = new Int32Array(new SharedArrayBuffer(4));
  const start: WorkerStart<I> = { items, cursor: cursor.buffer as SharedArrayBuffer, job };
  const workers = Array.from({ length: threads }, () => {
    const worker = new Worker(workerScript(), { workerData: start });
    const done = new Promise<unknown>((resolve, reject) => {
      worker.on('message', (reply: WorkerReply<O>) => {
        if ('done' in reply) return resolve(reply.done);
        for (const [i, o] of reply.results) {
          out[i] = o;
          on.outcome?.(o);
        }
      });
      // A worker that dies takes the items it claimed with it: say so rather than guess.
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`a worker thread exited (code ${code}) before it finished`)));
    });
    return { worker, done };
  });

  let slice = performance.now();
  for (let i = claim(cursor, items.length); i >= 0; i = claim(cursor, items.length)) {
    const o = (out[i] = here(items[i]));
    if (o !== null) on.outcome?.(o);
    if (performance.now() - slice > SLICE_MS) {
      on.tick?.(Math.min(Atomics.load(cursor, 0), items.length));
      if (threads > 0) await new Promise(setImmediate);
      slice = performance.now();
    }
  }
  let summaries: unknown[];
  try {
    summaries = await Promise.all(workers.map((w) => w.done));
  } finally {
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }
  return { outcomes: out, summaries };
}

let script: string | undefined;

/** bin/worker.js of this package, found from wherever this module runs (src/ or a bundle). */
function workerScript(): string {
  if (script) return script;
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'bin', 'worker.js');
    if (existsSync(candidate)) return (script = candidate);
  }
  throw new Error('bin/worker.js not found above the gup2pin sources');
}
