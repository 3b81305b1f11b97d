import type { Redis } from 'ioredis';
import type { Projection } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import { listOwnedKeys } from './read-model-snapshot.js';

/**
 * Replaces the live keys of one read model by the shadow's in a single
 * MULTI/EXEC: every reader (any API or worker process on this Redis) sees the
 * whole old read model or the whole new one, never a mix, with no pointer to
 * look up on each read. Live keys the shadow lacks are deleted in the same
 * step; the live checkpoint becomes the shadow's, so the live runner resumes
 * exactly after the last event the shadow applied. Call it with the live
 * runner paused. `shadowKeys`, when the replay knows every key it wrote, saves
 * scanning the shadow namespace.
 */
export async function swapReadModel(
  redis: Redis,
  projection: Projection,
  live: ReadModelKeys,
  shadow: ReadModelKeys,
  position: bigint | undefined,
  known?: string[],
): Promise<{ swapped: number; deleted: number }> {
  const [liveKeys, shadowKeys] = await Promise.all([
    listOwnedKeys(redis, live, projection),
    known ?? listOwnedKeys(redis, shadow, projection),
  ]);
  const incoming = new Set(shadowKeys.map((k) => live.root + shadow.relative(k)));
  const stale = liveKeys.filter((k) => !incoming.has(k));
  const multi = redis.multi();
  for (let i = 0; i < stale.length; i += 1000) multi.del(...stale.slice(i, i + 1000));
  for (const k of shadowKeys) multi.rename(k, live.root + shadow.relative(k));
  if (position === undefined) multi.del(live.checkpoint(projection.name));
  else multi.set(live.checkpoint(projection.name), position.toString());
  const results = await multi.exec();
  const failed = results?.find(([err]) => err);
  if (!results || failed) throw failed?.[0] ?? new Error('read-model swap aborted');
  return { swapped: shadowKeys.length, deleted: stale.length };
}
