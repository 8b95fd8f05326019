/**
 * A worker thread of the pool: loads while the main thread walks the tree, then claims files
 * from the shared cursor and processes them as the main thread does (`processFile`), except that
 * it hands the candidates to analyse back to the main thread (see pool.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serveBatch, type WorkerBatch, type WorkerReply } from './pool.ts';
import { processFile, type FileJob, type FileOutcome } from '../run.ts';
import { threadTimes } from '../timing.ts';
import { SlotView, type IndexSlots } from '../cache/file-index.ts';

/** `done`: called once this thread's work is over, before the main thread hears so (it then stops the thread). */
export function serve(done?: () => void): void {
  const port = parentPort;
  if (!port) throw new Error('src/parallel/worker.ts runs only as a worker thread');
  const job = workerData as FileJob;
  port.once('message', (batch: WorkerBatch<string>) => {
    const index = batch.shared ? new SlotView(batch.shared as IndexSlots) : undefined;
    serveBatch(
      batch,
      (path, i, mayHandBack) => processFile(path, job, i, index, mayHandBack),
      (reply: WorkerReply<FileOutcome>) => port.postMessage(reply),
    );
    done?.();
    port.postMessage({ done: threadTimes } satisfies WorkerReply<FileOutcome>);
  });
}
