/**
 * A worker thread of the pool: claims files from the shared cursor and processes them exactly
 * as the main thread does (`processFile`).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { claim, type WorkerReply, type WorkerStart } from './pool.ts';
import { processFile, type FileJob, type FileOutcome } from '../run.ts';
import { threadTimes } from '../timing.ts';

type Item = { path: string; display: string };

export function serve(): void {
  const port = parentPort;
  if (!port) throw new Error('src/parallel/worker.ts runs only as a worker thread');
  const { items, cursor, job } = workerData as WorkerStart<Item>;
  const shared = new Int32Array(cursor);
  for (let i = claim(shared, items.length); i >= 0; i = claim(shared, items.length)) {
    const outcome = processFile(items[i].path, items[i].display, job as FileJob);
    if (outcome) port.postMessage({ results: [[i, outcome]] } satisfies WorkerReply<FileOutcome>);
  }
  port.postMessage({ done: threadTimes } satisfies WorkerReply<FileOutcome>);
}
