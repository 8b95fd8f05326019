// A worker for test/pool.test.ts: serves a batch with src/parallel/pool.ts's serveBatch, handing
// back every item named `defer…`. It tells the test where it is through workerData.sync (an
// Int32Array over shared memory), so the test can order the two threads without timing them:
// [0] loaded, [1] its claims are over (it starts taking items back), [3] it is done. With
// workerData.waitForMain, the first item it takes back waits for the test to set [2].
import { register } from 'tsx/esm/api';

register();
const { parentPort, workerData } = await import('node:worker_threads');
const { DEFER, serveBatch } = await import('../src/parallel/pool.ts');

const sync = new Int32Array(workerData.sync);
const signal = (k) => {
  Atomics.store(sync, k, 1);
  Atomics.notify(sync, k);
};
signal(0);

parentPort.once('message', (batch) => {
  let takingBack = false;
  serveBatch(
    batch,
    (item, i, mayHandBack) => {
      if (!item.startsWith('defer')) return `worker ${item}`;
      if (mayHandBack) return DEFER;
      if (!takingBack) {
        takingBack = true;
        signal(1);
        if (workerData.waitForMain) Atomics.wait(sync, 2, 0, 10_000);
      }
      return `worker ${item}`;
    },
    (reply) => parentPort.postMessage(reply),
  );
  signal(3);
  parentPort.postMessage({ done: 'summary' });
});
