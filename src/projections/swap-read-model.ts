import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Projection } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import { listOwnedKeys } from './read-model-snapshot.js';

/**
 * RENAMEs a chunk of keys, KEYS given as (from, to) pairs. One command per chunk
 * instead of one per key: the client's cost per command (building and queueing it,
 * parsing its reply) was most of a rebuild's swap, under the live runner's pause.
 */
const RENAME_PAIRS = `for i = 1, #KEYS, 2 do redis.call('RENAME', KEYS[i], KEYS[i + 1]) end
return #KEYS / 2`;
/** Keys renamed per script call (both names are passed, so Redis sees every key the script touches). */
const RENAME_CHUNK = 2000;

/**
 * What a swap does, worked out from the key lists alone: each shadow key's live name, and the
 * live keys the shadow lacks (deleted in the swap). Tens of thousands of names are built and
 * hashed here: a rebuild makes the plan before the live runner's pause, and the swap under the
 * pause reuses it when the catch-up folded nothing new (`shadowKeys` is then the same list).
 */
export interface SwapPlan {
  /** The shadow keys the plan was made for (the identical array: see swapReadModel). */
  shadowKeys: readonly string[];
  targets: string[];
  stale: string[];
}

export function planSwap(
  live: ReadModelKeys,
  shadow: ReadModelKeys,
  liveKeys: readonly string[],
  shadowKeys: readonly string[],
): SwapPlan {
  const targets = shadowKeys.map((k) => live.root + shadow.relative(k));
  const incoming = new Set(targets);
  return { shadowKeys, targets, stale: liveKeys.filter((k) => !incoming.has(k)) };
}

/**
 * Replaces the live keys of one read model by the shadow's in a single
 * MULTI/EXEC: every reader (any API or worker process on this Redis) sees the
 * whole old read model or the whole new one, never a mix, with no pointer to
 * look up on each read. Live keys the shadow lacks are deleted in the same
 * step; the live checkpoint becomes the shadow's, so the live runner resumes
 * exactly after the last event the shadow applied. Call it with the live
 * runner paused. `known`, when the replay knows every key it wrote, saves
 * scanning the shadow namespace; `listedLive`, the live keys listed earlier, saves
 * scanning the live one under the pause (see ProjectionRebuilds.run); `plan`, made
 * from these same two lists before the pause, saves building the names under it (it is
 * used only when it was made for this very `known` array, else a new one is made).
 */
export async function swapReadModel(
  redis: Redis,
  projection: Projection,
  live: ReadModelKeys,
  shadow: ReadModelKeys,
  position: bigint | undefined,
  known?: string[],
  listedLive?: string[],
  plan?: SwapPlan,
): Promise<{ swapped: number; deleted: number }> {
  const { shadowKeys, targets, stale } =
    plan && known && plan.shadowKeys === known && listedLive
      ? plan
      : planSwap(
          live,
          shadow,
          ...(await Promise.all([
            listedLive ?? listOwnedKeys(redis, live, projection),
            known ?? listOwnedKeys(redis, shadow, projection),
          ])),
        );
  const multi = redis.multi();
  for (let i = 0; i < stale.length; i += 1000) multi.del(...stale.slice(i, i + 1000));
  for (let i = 0; i < shadowKeys.length; i += RENAME_CHUNK) {
    const pairs: string[] = [];
    const end = Math.min(shadowKeys.length, i + RENAME_CHUNK);
    for (let j = i; j < end; j++) pairs.push(shadowKeys[j]!, targets[j]!);
    multi.eval(RENAME_PAIRS, pairs.length, ...pairs);
  }
  if (position === undefined) multi.del(live.checkpoint(projection.name));
  else multi.set(live.checkpoint(projection.name), position.toString());
  // A new epoch with the new keys: a runner that kept its records in memory (ProjectionRunner.start)
  // learns that they are not what Redis holds any more, even when the checkpoint did not move.
  multi.set(live.epoch(projection.name), randomUUID());
  const results = await multi.exec();
  const failed = results?.find(([err]) => err);
  if (!results || failed) throw failed?.[0] ?? new Error('read-model swap aborted');
  return { swapped: shadowKeys.length, deleted: stale.length };
}
