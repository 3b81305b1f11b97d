import type { Redis } from 'ioredis';
import { RESULT_ID_FIELD, RESULT_MESSAGE_FIELD, type ResultMessage } from '../application/jobs.js';

interface PendingResult {
  id: string;
  message: ResultMessage;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Posts results on the results stream. Results posted in the same turn of the event loop (a worker's
 * driver calls that complete in one I/O poll) go to Redis in one pipeline, one XADD each, in order. A
 * caller's promise settles once its result is on the stream, or with the error Redis gave its XADD.
 */
export class ResultStreamWriter {
  private pending: PendingResult[] = [];

  constructor(
    private readonly client: () => Promise<Redis>,
    private readonly key: string,
  ) {}

  post(id: string, message: ResultMessage): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ id, message, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  /** Sends what is pending now; resolves once every caller has its answer (close() awaits it). */
  async flush(): Promise<void> {
    const batch = this.pending;
    if (!batch.length) return;
    this.pending = [];
    try {
      const client = await this.client();
      if (batch.length === 1) {
        // A lone result is one XADD sent as it is: an ioredis pipeline copies every script defined on
        // its client (the BullMQ connection holds some fifty) onto itself when made, which cost more
        // than the one write it would save; most flushes carry one result.
        const [r] = batch as [PendingResult];
        await client.xadd(this.key, '*', RESULT_ID_FIELD, r.id, RESULT_MESSAGE_FIELD, JSON.stringify(r.message));
        r.resolve();
        return;
      }
      const pipe = client.pipeline();
      for (const r of batch)
        pipe.xadd(this.key, '*', RESULT_ID_FIELD, r.id, RESULT_MESSAGE_FIELD, JSON.stringify(r.message));
      const replies = (await pipe.exec()) ?? [];
      batch.forEach((r, i) => {
        const err = replies[i]?.[0];
        if (err || !replies[i]) r.reject(err ?? new Error('result not posted: no reply from Redis'));
        else r.resolve();
      });
    } catch (err) {
      for (const r of batch) r.reject(err);
    }
  }
}
