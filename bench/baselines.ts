import { Queue, Worker } from 'bullmq';
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../src/eventstore/event-store.port.js';
import { pool, summarize, type Summary } from './stats.js';

/** Raw BullMQ: add → processed latency with one worker, nothing else in the path. */
export async function bullmqBaseline(
  redisUrl: string,
  prefix: string,
  n: number,
  concurrency: number,
): Promise<Summary> {
  const u = new URL(redisUrl);
  const connection = { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
  const name = 'bench-raw';
  const queue = new Queue(name, { connection, prefix });
  const added = new Map<string, number>();
  const lat: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const worker = new Worker(
    name,
    async (job) => {
      lat.push(performance.now() - (added.get(job.id!) ?? performance.now()));
      if (lat.length === n) done();
    },
    { connection, prefix, concurrency: 16 },
  );
  await worker.waitUntilReady();
  const t0 = performance.now();
  await pool(n, concurrency, async (i) => {
    const id = `b${i}-${randomUUID()}`;
    added.set(id, performance.now());
    await queue.add('x', { i }, { jobId: id, removeOnComplete: true });
  });
  await finished;
  const wall = performance.now() - t0;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return summarize(lat, wall);
}

/** Raw store: one-event appends to fresh streams (expected no_stream), as a create does. */
export async function appendBaseline(store: EventStore, n: number, concurrency: number): Promise<Summary> {
  const lat: number[] = [];
  const t0 = performance.now();
  await pool(n, concurrency, async () => {
    const s = performance.now();
    await store.append(
      `bench-${randomUUID()}`,
      [
        {
          id: randomUUID(),
          type: 'BenchEvent',
          data: { x: 1 },
          metadata: {
            principal: 'bench',
            correlationId: 'c',
            causationId: 'c',
            at: new Date().toISOString(),
            schema: 1,
          },
        },
      ],
      'no_stream',
    );
    lat.push(performance.now() - s);
  });
  return summarize(lat, performance.now() - t0);
}
