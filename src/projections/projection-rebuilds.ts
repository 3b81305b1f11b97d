import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { DomainError } from '../domain/domain-error.js';
import { StreamNotFoundError } from '../eventstore/errors.js';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port.js';
import { deleteKeysWithPrefix } from './redis-keys.js';
import { listOwnedKeys } from './read-model-snapshot.js';
import { LeaseLock } from './lease-lock.js';
import { PROJECTIONS, PROJECTION_NAMES } from './projection-catalog.js';
import type { ProjectionRunner } from './projection-runner.js';
import type { ReadModelKeys } from './read-model.keys.js';
import type { OperationView } from './read-model.types.js';
import { openRebuild, projectionStream, type RebuildEvent } from './rebuild.events.js';
import { countLogEvents, ShadowReplay } from './shadow-replay.js';
import { PIPE_MIN_ARGS, RespPipe } from './resp-pipe.js';
import { planSwap, swapArgs, swapReadModel } from './swap-read-model.js';

export interface MaintenanceDeps {
  store: EventStore;
  redis: Redis;
  keys: ReadModelKeys;
  log: Logger;
  runner(name: string): ProjectionRunner | undefined;
  /**
   * Runs `fn` while the live runner of this read model writes nothing, in
   * whichever process runs it (several API processes: one owns the runners).
   */
  pause<T>(runner: ProjectionRunner, fn: () => Promise<T>): Promise<T>;
  /** Read-your-writes on the operations read model. */
  waitForOperations(position: bigint): Promise<boolean>;
}

export interface RebuildOptions {
  reason?: string;
  /** Events per Redis transaction. */
  batchSize?: number;
  /** Pause between batches while the live runner still runs (throttling on a busy system). */
  pauseMs?: number;
}

export type RebuildProgress = NonNullable<OperationView['progress']>;

/** Who holds a maintenance lock, as the 409 tells it. */
export function describeHolder(projection: string, holder: string): string {
  const [what, id] = holder.split(':');
  if (what === 'rebuild') return `a rebuild of projection ${projection} is already running (operation ${id})`;
  if (what === 'replay-check') return `a replay check is reading projection ${projection}; retry when it ends`;
  return `projection ${projection} is busy (${holder})`;
}

export function unknownProjection(name: string): DomainError {
  return new DomainError(
    'not_found',
    `projection ${JSON.stringify(name)} not found; known: ${PROJECTION_NAMES.join(', ')}`,
  );
}

/**
 * `POST /v1/projections/{name}/rebuild`: replays the whole log into a shadow
 * namespace while the live read model keeps serving, then pauses the live
 * runner, lets the shadow catch up to the head, swaps it in with one MULTI and
 * resumes the live runner from the shadow's checkpoint: no event is lost or
 * applied twice across the swap. Recorded as events on `projection-<name>`
 * (who, when, result); progress lives beside the operation view while it runs.
 */
export class ProjectionRebuilds {
  private readonly running = new Set<Promise<void>>();
  private closing = false;

  constructor(private readonly deps: MaintenanceDeps) {}

  async start(name: string, principal: string, opts: RebuildOptions = {}): Promise<{ operationId: string }> {
    const reason = opts.reason;
    const { redis, keys } = this.deps;
    const runner = this.deps.runner(name);
    if (!Object.hasOwn(PROJECTIONS, name) || !runner) throw unknownProjection(name);
    if (this.closing) throw new DomainError('conflict', 'the process is shutting down; retry on another one');
    const operationId = randomUUID();
    const got = await LeaseLock.acquire(redis, keys.maintenanceLock(name), `rebuild:${operationId}`);
    if ('heldBy' in got) throw new DomainError('conflict', describeHolder(name, got.heldBy));
    const lock = got.lock;
    let started: RecordedEvent;
    try {
      await this.closeInterrupted(name, principal);
      started = await this.record(
        name,
        { type: 'ProjectionRebuildStarted', data: { operationId, projection: name } },
        {
          principal,
          operationId,
          causationId: `http:${operationId}`,
          ...(reason ? { reason } : {}),
        },
      );
      await redis.set(keys.rebuildProgress(operationId), JSON.stringify({ step: 'counting', done: 0 }), 'EX', 86400);
    } catch (err) {
      await lock.release();
      throw err;
    }
    await this.deps.waitForOperations(started.position);
    const task = this.run(name, runner, operationId, principal, started.id, opts).finally(() => {
      this.running.delete(task);
      return lock.release();
    });
    this.running.add(task);
    return { operationId };
  }

  /** Shutdown: running rebuilds stop at their next page and record a failure. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.running]);
  }

  private async run(
    name: string,
    runner: ProjectionRunner,
    operationId: string,
    principal: string,
    causationId: string,
    opts: RebuildOptions,
  ): Promise<void> {
    const { store, redis, keys, log } = this.deps;
    const shadowId = `rebuild-${operationId}`;
    const shadowKeys = keys.shadow(shadowId);
    const shadow = new ShadowReplay(store, redis, PROJECTIONS[name]!(shadowKeys), shadowKeys, {
      ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    });
    const meta = { principal, operationId, causationId };
    const stop = () => this.closing;
    let total = 0;
    /** Set once the swap moved the shadow's keys: what is left to delete, when known. */
    let leftover: string[] | undefined;
    /**
     * The progress write of the page before: a page's write is awaited when the next page is
     * reported, so the replay folds on instead of waiting a Redis round trip per page (in
     * order: one connection), and a failed write still fails the rebuild.
     */
    let lastProgress: Promise<unknown> = Promise.resolve();
    /** The swap's own connection, opened before the pause (see below). */
    let swapPipe: RespPipe | undefined;
    const report =
      (step: string, pauseMs = 0) =>
      async (done: number) => {
        total = Math.max(total, done);
        const progress: RebuildProgress = { step, done, total, percent: total ? Math.floor((done * 100) / total) : 0 };
        const previous = lastProgress;
        lastProgress = redis.set(keys.rebuildProgress(operationId), JSON.stringify(progress), 'EX', 86400);
        lastProgress.catch(() => undefined); // awaited at the next report or after the replays
        await previous;
        if (pauseMs > 0 && !this.closing) await sleep(pauseMs);
      };
    const t0 = performance.now();
    const ms = (t: number) => Math.round(performance.now() - t);
    try {
      total = await countLogEvents(store);
      const counted = ms(t0);
      // The live keys are listed while the shadow is built, not under the pause: a scan walks the
      // whole keyspace. What it can miss is a key the live runner creates meanwhile, from an event
      // the shadow applies too before the swap, with the same code: the shadow has that key and the
      // swap replaces it. Only a key the shadow lacks is deleted, and that one was there already.
      const listing = listOwnedKeys(redis, keys, runner.projection);
      listing.catch(() => undefined); // awaited at the swap; a failure then fails the rebuild
      await report('replaying')(0);
      await shadow.replay(undefined, report('replaying', opts.pauseMs), stop);
      // A second pass while live still runs, so the pause below only covers the last few events.
      await shadow.replay(undefined, report('catching-up'), stop);
      await lastProgress;
      // The written keys, split into the read model's and the rest, and the swap's plan (every
      // shadow key's live name, the live keys to delete), before the pause: the shadow keeps the
      // keys until it folds another event, so the swap below reuses both when none came meanwhile.
      const listed = await listing;
      const before = shadow.writtenKeys();
      const plan = before && planSwap(keys, shadowKeys, listed, before);
      // A large swap goes on a connection of its own (swapReadModel), opened here, not under the
      // pause: a connection and its first reply took 1-2 ms at the median on the loaded bench
      // machine, and up to 114 ms.
      if (plan && swapArgs(plan) >= PIPE_MIN_ARGS) swapPipe = await RespPipe.open(redis);
      const replayed = ms(t0);
      const t1 = performance.now();
      const swap = await this.deps.pause(runner, async () => {
        await shadow.replay(undefined, report('swapping'), stop);
        await lastProgress;
        const known = shadow.writtenKeys();
        const swapped = await swapReadModel(
          redis,
          runner.projection,
          keys,
          shadowKeys,
          shadow.position,
          known,
          listed,
          plan,
          swapPipe ? { pipe: swapPipe } : {},
        );
        if (known) leftover = shadow.leftoverKeys();
        return swapped;
      });
      log.info(
        {
          projection: name,
          operationId,
          events: shadow.events,
          inMemory: shadow.inMemory,
          ...swap,
          countMs: counted,
          replayMs: replayed - counted,
          pausedMs: ms(t1),
        },
        'projection rebuilt and swapped in',
      );
      await this.record(
        name,
        {
          type: 'ProjectionRebuildSucceeded',
          data: { operationId, projection: name, events: shadow.events, position: String(shadow.position ?? 0n) },
        },
        meta,
      );
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      log.error({ err, projection: name, operationId }, 'projection rebuild failed; the live read model is unchanged');
      await this.record(
        name,
        { type: 'ProjectionRebuildFailed', data: { operationId, projection: name, reason } },
        meta,
      ).catch((e: unknown) => log.error({ err: e }, 'could not record the failed rebuild'));
    } finally {
      swapPipe?.close();
      // After a swap of known keys only a few are left: no scan of the whole keyspace for them.
      const cleanup = leftover?.length
        ? redis.del(...leftover).then(() => undefined)
        : deleteKeysWithPrefix(redis, keys.shadowRoot(shadowId));
      await cleanup.catch(() => undefined);
      await redis.del(keys.rebuildProgress(operationId)).catch(() => undefined);
    }
  }

  /** A rebuild left open by a process that died (its lease expired, we hold the lock now) is closed as failed. */
  private async closeInterrupted(name: string, principal: string): Promise<void> {
    let events: RecordedEvent[];
    try {
      events = await this.deps.store.readStream(projectionStream(name));
    } catch (err) {
      if (err instanceof StreamNotFoundError) return;
      throw err;
    }
    const open = openRebuild(events);
    if (!open) return;
    await this.record(
      name,
      {
        type: 'ProjectionRebuildFailed',
        data: { operationId: open, projection: name, reason: 'interrupted: the process running it stopped' },
      },
      { principal, operationId: open, causationId: `http:${open}` },
    );
  }

  private async record(
    name: string,
    event: RebuildEvent,
    meta: { principal: string; operationId: string; causationId: string; reason?: string },
  ): Promise<RecordedEvent> {
    const res = await this.deps.store.append(
      projectionStream(name),
      [
        {
          id: randomUUID(),
          type: event.type,
          data: event.data,
          metadata: {
            principal: meta.principal,
            correlationId: meta.operationId,
            causationId: meta.causationId,
            at: new Date().toISOString(),
            schema: 1,
            ...(meta.reason ? { reason: meta.reason } : {}),
          },
        },
      ],
      'any',
    );
    return res.events[res.events.length - 1]!;
  }
}
