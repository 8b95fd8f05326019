/**
 * An order-keeping parallel map over worker threads. The workers start while the caller is
 * still gathering items (walking the tree) and load meanwhile; the calling thread then works
 * through the same queue, so it never waits for a worker to start, and on two cores one worker
 * plus this thread keep both busy. Output order is input order whatever the timing. Outcomes
 * that are null (most files of a tree: not a candidate) never cross threads.
 *
 * A worker may hand an item back to the calling thread (DEFER) instead of working it out: gup2pin's
 * workers hand back the candidates to analyse and go on reading, so the analysis code runs, and
 * pays its JIT warm-up, in one thread only. On the 6.1 tree two analysing threads spent 2.9-3.1 s
 * of CPU on what one thread does in 1.6-2.0 s. Once nothing is left to claim, a worker takes back
 * its handed-back items the calling thread has not started, so neither thread waits on the other.
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
  /** Uint8Array over a SharedArrayBuffer, one byte per item: HANDED_BACK, then TAKEN (see take). */
  states: SharedArrayBuffer;
  /** What every thread shares for this map (shared memory), if anything. */
  shared?: unknown;
}

/** A worker's messages: outcomes by index (nulls are left out), items handed back, then its summary (timings). */
export type WorkerReply<O> = { results: Array<[number, O]> } | { handedBack: number } | { done: unknown };

/** What a worker's `here` returns for an item it hands back to the calling thread. */
export const DEFER = Symbol('defer');

/** An item's state: handed back by a worker and waiting, or taken by the thread that works it out. */
const HANDED_BACK = 1;
const TAKEN = 2;

/** Takes a handed-back item for this thread, unless another thread took it first. */
const take = (states: Uint8Array, i: number) => Atomics.compareExchange(states, i, HANDED_BACK, TAKEN) === HANDED_BACK;

/** Claims the next item: every thread takes from the same shared cursor, so none waits to be fed. */
export function claim(cursor: Int32Array, length: number): number {
  const i = Atomics.add(cursor, 0, 1);
  return i < length ? i : -1;
}

/**
 * A worker's side of `map`: claims items and works them out with `here`, which may hand one back
 * (`mayHandBack`). When no item is left to claim, it takes back those of its handed-back items the
 * calling thread has not started, newest first (the calling thread takes the oldest first), and
 * works them out itself.
 */
export function serveBatch<I, O>(
  { items, cursor, states }: WorkerBatch<I>,
  here: (item: I, index: number, mayHandBack: boolean) => O | null | typeof DEFER,
  post: (reply: WorkerReply<O>) => void,
): void {
  const next = new Int32Array(cursor);
  const state = new Uint8Array(states);
  const handed: number[] = [];
  const done = (i: number, o: O | null) => o !== null && post({ results: [[i, o]] });
  for (let i = claim(next, items.length); i >= 0; i = claim(next, items.length)) {
    const o = here(items[i], i, true);
    if (o !== DEFER) done(i, o);
    else {
      handed.push(i);
      Atomics.store(state, i, HANDED_BACK);
      post({ handedBack: i });
    }
  }
  for (const i of handed.reverse()) if (take(state, i)) done(i, here(items[i], i, false) as O | null);
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
    /** The workers' script; bin/worker.js by default (tests give their own). */
    private readonly script?: string,
  ) {}

  /** Whether `start()` was called: the map will have other threads. */
  get started(): boolean {
    return this.workers.length > 0;
  }

  /** Start the workers (again: no-op), so they load while the caller still gathers items. */
  start(): void {
    while (this.workers.length < this.threads) this.workers.push(new Worker(this.script ?? workerScript(), { workerData: this.job, resourceLimits: WORKER_LIMITS }));
  }

  /** Outcomes in item order, each worker's summary, and how many threads did the work. */
  async map(items: readonly I[], here: (item: I, index: number) => O | null, shared?: unknown, on: PoolEvents<O> = {}): Promise<{ outcomes: Array<O | null>; summaries: unknown[]; threads: number }> {
    const out = new Array<O | null>(items.length).fill(null);
    const cursor = new Int32Array(new SharedArrayBuffer(4));
    const states = new Uint8Array(new SharedArrayBuffer(items.length));
    const { workers } = this;
    // Items handed back, oldest first, and how this thread waits for more when it has no other work.
    const handedBack: number[] = [];
    let wake: (() => void) | undefined;
    const heard = () => {
      wake?.();
      wake = undefined;
    };
    let running = workers.length;
    const finished = workers.map((worker) => {
      const done = new Promise<unknown>((resolve, reject) => {
        worker.on('message', (reply: WorkerReply<O>) => {
          if ('done' in reply) {
            running--;
            heard();
            resolve(reply.done);
          } else if ('handedBack' in reply) {
            handedBack.push(reply.handedBack);
            heard();
          } else {
            for (const [i, o] of reply.results) {
              out[i] = o;
              on.outcome?.(o);
            }
          }
        });
        // A worker that dies takes the items it claimed with it: say so rather than guess.
        worker.on('error', reject);
        worker.on('exit', (code) => reject(new Error(`a worker thread exited (code ${code}) before it finished`)));
      });
      const batch: WorkerBatch<I> = { items, cursor: cursor.buffer as SharedArrayBuffer, states: states.buffer as SharedArrayBuffer, shared };
      worker.postMessage(batch);
      return done;
    });
    // A worker that fails ends the wait below; Promise.all then says why.
    let failed = false;
    Promise.all(finished).catch(() => {
      failed = true;
      heard();
    });

    let slice = performance.now();
    for (;;) {
      let i: number | undefined;
      while ((i = handedBack.shift()) !== undefined && !take(states, i));
      i ??= claim(cursor, items.length);
      if (i < 0) {
        // Nothing left to claim: a worker may still hand items back until it is done.
        if (running === 0 || failed) break;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
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
      this.close();
    }
    return { outcomes: out, summaries, threads: workers.length + 1 };
  }

  /**
   * Stop the workers (one still starting up is simply stopped). Nothing waits for their
   * teardown, which frees their heaps in their own threads: 25-30 ms of a whole-tree run.
   */
  close(): void {
    for (const w of this.workers) {
      w.removeAllListeners('exit');
      void w.terminate();
    }
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
