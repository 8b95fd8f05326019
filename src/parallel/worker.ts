/**
 * A worker thread of the pool: loads while the main thread walks the tree, then claims files
 * from the shared cursor and processes them exactly as the main thread does (`processFile`).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { claim, type WorkerBatch, type WorkerReply } from './pool.ts';
import { processFile, type FileJob, type FileOutcome } from '../run.ts';
import { threadTimes } from '../timing.ts';
import { SlotView, type IndexSlots } from '../cache/file-index.ts';

/** `done`: called once this thread's work is over, before the main thread hears so (it then stops the thread). */
export function serve(done?: () => void): void {
  const port = parentPort;
  if (!port) throw new Error('src/parallel/worker.ts runs only as a worker thread');
  const job = workerData as FileJob;
  port.once('message', ({ items, cursor, shared }: WorkerBatch<string>) => {
    const next = new Int32Array(cursor);
    const index = shared ? new SlotView(shared as IndexSlots) : undefined;
    for (let i = claim(next, items.length); i >= 0; i = claim(next, items.length)) {
      const outcome = processFile(items[i], job, i, index);
      if (outcome) port.postMessage({ results: [[i, outcome]] } satisfies WorkerReply<FileOutcome>);
    }
    done?.();
    port.postMessage({ done: threadTimes } satisfies WorkerReply<FileOutcome>);
  });
}
