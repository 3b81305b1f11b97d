import type { Redis } from 'ioredis';
import { isPoison } from '../domain/parked.js';
import type { EventStore } from '../eventstore/event-store.port.js';
import type { Projection } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import { SHADOW_CACHE_LIMIT, ShadowTx } from './shadow-tx.js';

/** Events per read and per Redis transaction: one MULTI per page instead of one per event is what makes a replay fast; big pages also halve the store round trips (PostgreSQL). */
export const REPLAY_BATCH = 2000;

/**
 * Folds the log into a shadow namespace with the same projection code the live
 * runner uses. A page of events shares one transaction (reads see the page's
 * own earlier writes), committed with the shadow's checkpoint, so a shadow is
 * always a prefix of the log, never a part of an event.
 */
export class ShadowReplay {
  /** Last position applied (undefined before the first event). */
  position: bigint | undefined;
  /** Events read from the log and handed to the projection (most are ignored by one of them). */
  events = 0;
  /** Everything written so far (the shadow started empty); dropped past the limit. */
  private known: Map<string, unknown> | undefined = new Map();

  constructor(
    private readonly store: EventStore,
    private readonly redis: Redis,
    readonly projection: Projection,
    readonly keys: ReadModelKeys,
    private readonly batchSize = REPLAY_BATCH,
  ) {}

  /**
   * Applies the events after the current position up to `until` (inclusive), or to
   * the head when omitted; `onBatch` sees the running count after each page.
   * `shouldStop` is asked between pages (shutdown).
   */
  async replay(
    until?: bigint,
    onBatch?: (events: number) => Promise<void> | void,
    shouldStop?: () => boolean,
  ): Promise<number> {
    let applied = 0;
    for (;;) {
      if (shouldStop?.()) throw new Error('replay stopped: the process is shutting down');
      const page = await this.store.readAll({
        ...(this.position !== undefined ? { after: this.position } : {}),
        maxCount: this.batchSize,
      });
      const wanted = until === undefined ? page : page.filter((e) => e.position <= until);
      if (wanted.length === 0) return applied;
      const tx = new ShadowTx(this.redis, this.known);
      for (const e of wanted) {
        tx.mark();
        try {
          await this.projection.apply(e, tx);
        } catch (err) {
          // The live runner parks such an event and writes nothing of it: the replay must skip it the same way.
          if (!isPoison(err)) throw err;
          tx.rollback();
        }
      }
      const last = wanted[wanted.length - 1]!.position;
      await tx.commit(this.keys.checkpoint(this.projection.name), last);
      this.position = last;
      if (this.known && this.known.size > SHADOW_CACHE_LIMIT) this.known = undefined;
      this.events += wanted.length;
      applied += wanted.length;
      await onBatch?.(this.events);
      if (wanted.length < page.length || page.length < this.batchSize) return applied;
    }
  }
}

/** Events in the log now (a rebuild's progress total). */
export async function countLogEvents(store: EventStore): Promise<number> {
  // Counted by the database when it can: reading and parsing the whole log only to count it cost a full extra pass.
  if (store.countEvents) return store.countEvents();
  let n = 0;
  let after: bigint | undefined;
  for (;;) {
    const page = await store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: 2000 });
    n += page.length;
    if (page.length < 2000) return n;
    after = page[page.length - 1]!.position;
  }
}
