/**
 * An order-keeping parallel map over worker threads. The workers start while the caller is
 * still gathering items (walking the tree) and load meanwhile; the calling thread then works
 * through the same queue, so it never waits for a worker to start, and on two cores one worker
 * plus this thread keep both busy. Output order is input order whatever the timing. Outcomes
 * that are null (most files of a tree: not a candidate) never cross threads.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

export const defaultJobs = (): number => availableParallelism();

/** What a worker is sent once the caller has its list: the items and the shared cursor. */
export interface WorkerBatch<I> {
  items: readonly I[];
  /** Int32Array over a SharedArrayBuffer: [0] is the next unclaimed item. */
  cursor: SharedArrayBuffer;
  /** What every thread shares for this map (shared memory), if anything. */
  shared?: unknown;
}

/** A worker's messages: outcomes by index (nulls are left out), then its summary (timings). */
export type WorkerReply<O> = { results: Array<[number, O]> } | { done: unknown };

/** Claims the next item: every thread takes from the same shared cursor, so none waits to be fed. */
export function claim(cursor: Int32Array, length: number): number {
  const i = Atomics.add(cursor, 0, 1);
  return i < length ? i : -1;
}

/**
 * A worker's young generation: 24 MB (8 MB semi-spaces) instead of V8's 48 MB. A whole-tree run's
 * peak RSS was 407-423 MB with two threads, over its 400 MB limit; this brings it to 356-383 MB
 * with no measurable change in time (A/B, 4 runs each).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 24 };

/** How long this thread works before it lets waiting worker replies in. */
const SLICE_MS = 5;

export interface PoolEvents<O> {
  /** Each non-null outcome as it arrives, in completion order. */
  outcome?: (o: O) => void;
  /** Now and then (when this thread looks up from its own items): how many items are claimed. */
  tick?: (claimed: number) => void;
}

/**
 * Up to `threads` workers (bin/worker.js → src/parallel/worker.ts) with `job` as workerData,
 * started by `start()` once the caller knows the run is big enough to pay for them (a worker's
 * start-up and JIT warm-up cost more CPU than a small run saves); `map` runs once, the workers
 * calling for each item what the caller calls as `here`.
 */
export class Pool<I, O> {
  private readonly workers: Worker[] = [];

  constructor(
    private readonly threads: number,
    private readonly job: unknown,
  ) {}

  /** Whether `start()` was called: the map will have other threads. */
  get started(): boolean {
    return this.workers.length > 0;
  }

  /** Start the workers (again: no-op), so they load while the caller still gathers items. */
  start(): void {
    while (this.workers.length < this.threads) this.workers.push(new Worker(workerScript(), { workerData: this.job, resourceLimits: WORKER_LIMITS }));
  }

  /** Outcomes in item order, each worker's summary, and how many threads did the work. */
  async map(items: readonly I[], here: (item: I, index: number) => O | null, shared?: unknown, on: PoolEvents<O> = {}): Promise<{ outcomes: Array<O | null>; summaries: unknown[]; threads: number }> {
    const out = new Array<O | null>(items.length).fill(null);
    const cursor = new Int32Array(new SharedArrayBuffer(4));
    const { workers } = this;
    const finished = workers.map((worker) => {
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
      const batch: WorkerBatch<I> = { items, cursor: cursor.buffer as SharedArrayBuffer, shared };
      worker.postMessage(batch);
      return done;
    });

    let slice = performance.now();
    for (let i = claim(cursor, items.length); i >= 0; i = claim(cursor, items.length)) {
      const o = (out[i] = here(items[i], i));
      if (o !== null) on.outcome?.(o);
      if (performance.now() - slice > SLICE_MS) {
        on.tick?.(Math.min(Atomics.load(cursor, 0), items.length));
        if (workers.length) await new Promise(setImmediate);
        slice = performance.now();
      }
    }
    let summaries: unknown[];
    try {
      summaries = await Promise.all(finished);
    } finally {
      await this.close();
    }
    return { outcomes: out, summaries, threads: workers.length + 1 };
  }

  /** Stop the workers (one still starting up is simply stopped). */
  async close(): Promise<void> {
    for (const w of this.workers) w.removeAllListeners('exit');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

let script: string | undefined;

/**
 * bin/worker.js of the checkout whose launcher started this run, else found from wherever this
 * module runs (src/ or a bundle: the bundle's path is resolved through symlinks, and can be in
 * another checkout when node_modules is shared).
 */
function workerScript(): string {
  if (script) return script;
  const launcher = (globalThis as Record<symbol, string | undefined>)[Symbol.for('gup2pin.root')];
  if (launcher && existsSync(join(launcher, 'bin', 'worker.js'))) return (script = join(launcher, 'bin', 'worker.js'));
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'bin', 'worker.js');
    if (existsSync(candidate)) return (script = candidate);
  }
  throw new Error('bin/worker.js not found above the gup2pin sources');
}
