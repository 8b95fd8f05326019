/**
 * The pool's hand-back protocol (src/parallel/pool.ts): a worker hands items back to the calling
 * thread, then takes back those the calling thread has not started; every item is worked out
 * exactly once, and the outcomes keep the items' order.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFER, Pool, serveBatch, type WorkerBatch, type WorkerReply } from '../src/parallel/pool.ts';

/** A batch as Pool.map sends it, over fresh shared memory. */
function batch(items: string[]): WorkerBatch<string> {
  return { items, cursor: new SharedArrayBuffer(4), states: new SharedArrayBuffer(items.length) };
}

/** Hands back every item named `defer…` while it may, and works out the rest (and taken-back ones). */
const here = (item: string, _i: number, mayHandBack: boolean) => (item.startsWith('defer') && mayHandBack ? DEFER : `done ${item}`);

describe('serveBatch (a worker)', () => {
  it('hands items back as it claims them, then works out the ones still waiting, newest first', () => {
    const posted: WorkerReply<string>[] = [];
    serveBatch(batch(['a', 'defer-b', 'c', 'defer-d', 'e']), here, (r) => posted.push(r));
    expect(posted).toEqual([
      { results: [[0, 'done a']] },
      { handedBack: 1 },
      { results: [[2, 'done c']] },
      { handedBack: 3 },
      { results: [[4, 'done e']] },
      { results: [[3, 'done defer-d']] },
      { results: [[1, 'done defer-b']] },
    ]);
  });

  it('leaves a handed-back item the calling thread took, and claims nothing another thread claimed', () => {
    const b = batch(['defer-a', 'b', 'defer-c', 'd']);
    const states = new Uint8Array(b.states);
    const posted: WorkerReply<string>[] = [];
    serveBatch(b, here, (r) => {
      posted.push(r);
      // The calling thread takes item 0 as soon as it hears of it, and meanwhile claims item 1.
      if ('handedBack' in r && r.handedBack === 0) {
        expect(Atomics.compareExchange(states, 0, 1, 2)).toBe(1);
        expect(Atomics.add(new Int32Array(b.cursor), 0, 1)).toBe(1);
      }
    });
    expect(posted).toEqual([{ handedBack: 0 }, { handedBack: 2 }, { results: [[3, 'done d']] }, { results: [[2, 'done defer-c']] }]);
  });

  it('posts nothing for an item worked out to null', () => {
    const posted: WorkerReply<string>[] = [];
    serveBatch<string, string>(batch(['x', 'defer-y']), (item, _i, may) => (may && item === 'defer-y' ? DEFER : null), (r) => posted.push(r));
    expect(posted).toEqual([{ handedBack: 1 }]);
  });
});

describe('Pool.map with a worker that hands items back', () => {
  const script = fileURLToPath(new URL('./pool-worker.mjs', import.meta.url));
  /** Where the worker is (see test/pool-worker.mjs). */
  const LOADED = 0;
  const TAKING_BACK = 1;
  const MAIN_TOOK = 2;
  const DONE = 3;

  /** A started pool whose worker has loaded, and the flags it shares with it. */
  async function loadedPool(waitForMain = false) {
    const sync = new Int32Array(new SharedArrayBuffer(16));
    const pool = new Pool<string, string>(1, { sync: sync.buffer, waitForMain }, script);
    pool.start();
    while (!Atomics.load(sync, LOADED)) await new Promise((resolve) => setTimeout(resolve, 20));
    const waitFor = (k: number) => expect(Atomics.wait(sync, k, 0, 10_000)).not.toBe('timed-out');
    const signal = (k: number) => {
      Atomics.store(sync, k, 1);
      Atomics.notify(sync, k);
    };
    return { pool, waitFor, signal };
  }

  const withoutThread = (outcomes: Array<string | null>) => outcomes.map((o) => o!.replace(/^(main|worker) /, ''));

  it('works out every item exactly once, in order, whichever thread takes a handed-back item', async () => {
    const items = Array.from({ length: 400 }, (_, i) => (i % 7 === 3 ? `defer-${i}` : `item-${i}`));
    const { pool } = await loadedPool();
    const heard: string[] = [];
    const byMain: number[] = [];
    const mapped = await pool.map(
      items,
      (item, i) => {
        byMain.push(i);
        return `main ${item}`;
      },
      undefined,
      { outcome: (o) => heard.push(o) },
    );
    expect(mapped.threads).toBe(2);
    expect(mapped.summaries).toEqual(['summary']);
    // One outcome per item, each item's own, and each heard once: no item was worked out twice.
    expect(withoutThread(mapped.outcomes)).toEqual(items);
    expect(heard.length).toBe(items.length);
    expect(new Set(byMain).size).toBe(byMain.length);
    for (const [i, o] of mapped.outcomes.entries()) expect(o!.startsWith('main ')).toBe(byMain.includes(i));
  });

  it('takes the oldest handed-back items while the worker takes back the newest', async () => {
    const items = Array.from({ length: 20 }, (_, i) => `defer-${i}`);
    const { pool, waitFor, signal } = await loadedPool(true);
    const byMain: number[] = [];
    // This thread stays on its first item until the worker has claimed and handed back all the
    // others; the worker stays on the first it takes back (the newest) until this thread took one.
    const mapped = await pool.map(items, (item, i) => {
      byMain.push(i);
      if (byMain.length === 1) waitFor(TAKING_BACK);
      if (byMain.length === 2) signal(MAIN_TOOK);
      return `main ${item}`;
    });
    expect(withoutThread(mapped.outcomes)).toEqual(items);
    const handedBack = items.map((_, i) => i).filter((i) => i !== byMain[0]);
    expect(mapped.outcomes[handedBack[0]]).toBe(`main ${items[handedBack[0]]}`);
    expect(mapped.outcomes[handedBack.at(-1)!]).toBe(`worker ${items[handedBack.at(-1)!]}`);
  });

  it('skips the handed-back items the worker took back, and ends when it is done', async () => {
    const items = ['defer-0', 'defer-1', 'defer-2'];
    const { pool, waitFor, signal } = await loadedPool(true);
    const byMain: number[] = [];
    // The worker takes back everything it handed back while this thread is on its first item. It
    // waits for this thread to have one: else it may claim, hand back and take back all three first.
    const mapped = await pool.map(items, (item, i) => {
      byMain.push(i);
      signal(MAIN_TOOK);
      waitFor(DONE);
      return `main ${item}`;
    });
    expect(byMain.length).toBe(1);
    expect(mapped.outcomes).toEqual(items.map((item, i) => `${i === byMain[0] ? 'main' : 'worker'} ${item}`));
  });
});
