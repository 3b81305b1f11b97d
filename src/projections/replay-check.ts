import { randomUUID } from 'node:crypto';
import { DomainError } from '../domain/domain-error.js';
import { deleteKeysWithPrefix } from './redis-keys.js';
import { acquireAll } from './lease-lock.js';
import { PROJECTIONS } from './projection-catalog.js';
import { describeHolder, type MaintenanceDeps } from './projection-rebuilds.js';
import type { ProjectionRunner } from './projection-runner.js';
import { diffAgainstReplay, diffSnapshots, type ReadModelDifference } from './read-model-diff.js';
import {
  listKeysOfEach,
  readRawSnapshot,
  toStoredValue,
  type RawSnapshot,
  type ReadModelSnapshot,
} from './read-model-snapshot.js';
import { replayTogether, ShadowReplay } from './shadow-replay.js';

/** Keys of `from` that `other` lacks. */
function countMissing(from: ReadModelSnapshot, other: RawSnapshot): number {
  let n = 0;
  for (const k of from.keys()) if (!other.has(k)) n++;
  return n;
}

/** A live read model against its replay: in place while the fold is in memory, else against the shadow's snapshot. */
async function compare(
  name: string,
  live: RawSnapshot,
  shadow: ShadowReplay,
): Promise<{ differences: ReadModelDifference[]; recordsCompared: number }> {
  const view = shadow.view();
  if (view) return diffAgainstReplay(name, live, view);
  const replayed = await shadow.snapshot();
  const stored: ReadModelSnapshot = new Map();
  for (const [k, v] of live) stored.set(k, toStoredValue(v));
  return {
    differences: diffSnapshots(name, stored, replayed),
    recordsCompared: live.size + countMissing(replayed, live),
  };
}

/**
 * The live keys to read under a read model's pause: the ones the scan before the pauses found
 * and the ones the replay holds at the checkpoint. A key the live runner made since the scan
 * comes from an event the replay applied too, with the same code, so the replay holds it; a
 * key gone since is read as absent. What this can miss is a key that something else (a hand
 * edit, a live write the replay does not make) created after the scan began: it is still there
 * for the next check. Scanning under each pause instead walked the whole keyspace (every
 * namespace and queue on a shared Redis) once per read model while its runner waited.
 * Without the fold's keys (it spilled to Redis) the live namespace is scanned under the pause.
 */
function keysAtPause(listed: string[], replayed: string[] | undefined): string[] | undefined {
  if (!replayed) return undefined;
  const names = new Set(listed);
  for (const k of replayed) names.add(k);
  return [...names];
}

/** Differences listed in one report at most; `differenceCount` still counts them all. */
export const MAX_DIFFERENCES = 1000;

export interface ReadModelCheck {
  name: string;
  /** The log position both sides were compared at (decimal string; null: empty log). */
  position: string | null;
  eventsReplayed: number;
  recordsCompared: number;
  differences: number;
}

export interface ReplayCheckReport {
  /** True when every read model equals its replay: live state is what the log says. */
  consistent: boolean;
  /** Highest position compared (each read model is compared at its own checkpoint; see readModels). */
  position: string | null;
  eventsReplayed: number;
  recordsCompared: number;
  differenceCount: number;
  truncated: boolean;
  differences: ReadModelDifference[];
  readModels: ReadModelCheck[];
  durationMs: number;
}

/**
 * `GET /v1/audit/replay-check`: replays the log with the live projection code
 * and compares the result, key by key and field by field, with the live read
 * models. Every read model is folded in memory at once from one read of the log
 * (up to the lowest live checkpoint, while live runs); then, read model by read
 * model, the live runner is paused, the fold catches up to its exact checkpoint,
 * the live keys are read and the runner resumes; the comparison is in memory.
 * Nothing is written unless a fold outgrows its memory bound (it then spills to
 * a shadow namespace, deleted whatever happens).
 */
export async function replayCheck(deps: MaintenanceDeps, runners: ProjectionRunner[]): Promise<ReplayCheckReport> {
  const t0 = performance.now();
  const { redis, keys } = deps;
  const id = `check-${randomUUID()}`;
  const got = await acquireAll(
    redis,
    runners.map((r) => keys.maintenanceLock(r.projection.name)),
    `replay-check:${id}`,
  );
  if ('heldBy' in got) {
    const name = got.key.slice(keys.maintenanceLock('').length);
    throw new DomainError('conflict', describeHolder(name, got.heldBy));
  }
  const shadowKeys = keys.shadow(id);
  /** Whether nothing was written to the shadow namespace (every fold stayed in memory and the check finished). */
  let nothingWritten = false;
  try {
    const checks: ReadModelCheck[] = [];
    const differences: ReadModelDifference[] = [];
    let differenceCount = 0;
    const shadows = runners.map(
      (r) =>
        new ShadowReplay(deps.store, redis, PROJECTIONS[r.projection.name]!(shadowKeys), shadowKeys, {
          persist: false,
        }),
    );
    // The owners' checkpoints (this process may be a standby whose runners are not running).
    const current = await Promise.all(runners.map((r) => redis.get(keys.checkpoint(r.projection.name))));
    const bulk = current.map((c) => (c ? BigInt(c) : undefined));
    // Every read model's live keys from one scan, made while the fold runs (see keysAtPause).
    const listing = listKeysOfEach(
      redis,
      keys,
      runners.map((r) => r.projection),
    );
    listing.catch(() => undefined); // awaited below; a failure then fails the check
    if (bulk.every((c) => c !== undefined) && bulk.length > 0) {
      const lowest = bulk.reduce((a, b) => (b! < a! ? b : a))!;
      await replayTogether(deps.store, shadows, undefined, lowest);
    }
    const listed = await listing;
    for (const [i, runner] of runners.entries()) {
      const name = runner.projection.name;
      const shadow = shadows[i]!;
      const bulkUntil = bulk[i];
      // Bulk to this read model's checkpoint while live runs, so the pause below covers a few events only.
      if (bulkUntil !== undefined) await shadow.replay(bulkUntil);
      let live: RawSnapshot = new Map();
      let position: bigint | undefined;
      // The keys to read, listed before the pause (tens of thousands of names built and merged): under
      // it they are listed again only if the catch-up folded an event, which may have added a key.
      const folded = shadow.position;
      const namesBefore = keysAtPause(listed.get(name) ?? [], shadow.ownedKeysIn(keys));
      // Their types too (a look-up in the fold per name): they hold while the fold folds nothing more.
      const hint = shadow.typeHint();
      const typesBefore = namesBefore && hint ? namesBefore.map((k) => hint(keys.relative(k))) : undefined;
      await deps.pause(runner, async () => {
        const raw = await redis.get(keys.checkpoint(name));
        position = raw ? BigInt(raw) : undefined;
        if (position !== undefined) await shadow.replay(position);
        const unchanged = shadow.position === folded;
        const names = unchanged ? namesBefore : keysAtPause(listed.get(name) ?? [], shadow.ownedKeysIn(keys));
        const types = unchanged && typesBefore ? typesBefore : shadow.typeHint();
        live = await readRawSnapshot(redis, keys, runner.projection, types, names);
      });
      if (shadow.position !== position)
        throw new Error(`read model ${name} restarted from the log during the check; run it again`);
      const { differences: found, recordsCompared } = await compare(name, live, shadow);
      differenceCount += found.length;
      differences.push(...found.slice(0, Math.max(0, MAX_DIFFERENCES - differences.length)));
      checks.push({
        name,
        position: position?.toString() ?? null,
        eventsReplayed: shadow.events,
        recordsCompared,
        differences: found.length,
      });
    }
    nothingWritten = shadows.every((s) => s.inMemory);
    const positions = checks.map((c) => c.position).filter((p): p is string => p !== null);
    return {
      consistent: differenceCount === 0,
      position: positions.length ? positions.reduce((a, b) => (BigInt(a) >= BigInt(b) ? a : b)) : null,
      eventsReplayed: Math.max(0, ...checks.map((c) => c.eventsReplayed)),
      recordsCompared: checks.reduce((n, c) => n + c.recordsCompared, 0),
      differenceCount,
      truncated: differenceCount > differences.length,
      differences,
      readModels: checks,
      durationMs: Math.round(performance.now() - t0),
    };
  } finally {
    // A scan of the whole keyspace only when a fold spilled, or may have (the check failed part way).
    if (!nothingWritten) await deleteKeysWithPrefix(redis, keys.shadowRoot(id)).catch(() => undefined);
    await Promise.all(got.locks.map((l) => l.release()));
  }
}
