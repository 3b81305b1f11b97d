import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Projection } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import { listOwnedKeys } from './read-model-snapshot.js';
import { bulk, PIPE_MIN_ARGS, RespPipe } from './resp-pipe.js';

/**
 * RENAMEs a chunk of keys, KEYS given as (from, to) pairs. One command per chunk
 * instead of one per key: the client's cost per command (building and queueing it,
 * parsing its reply) was most of a rebuild's swap, under the live runner's pause.
 */
const RENAME_PAIRS = `for i = 1, #KEYS, 2 do redis.call('RENAME', KEYS[i], KEYS[i + 1]) end
return #KEYS / 2`;
/** Keys renamed per script call (both names are passed, so Redis sees every key the script touches). */
const RENAME_CHUNK = 2000;
/** A RENAME's header as protocol text: a command of three, the name. */
const RENAME = '*3\r\n$6\r\nRENAME\r\n';
/** Stale keys per DEL. */
const DEL_CHUNK = 1000;

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

/** Key arguments a swap sends (RespPipe's PIPE_MIN_ARGS says from how many it goes on a pipe). */
export function swapArgs(plan: Pick<SwapPlan, 'shadowKeys' | 'stale'>): number {
  return plan.stale.length + plan.shadowKeys.length * 2;
}

export interface SwapOptions {
  /**
   * A pipe opened before the live runner's pause (the caller closes it): used for a large swap
   * while it is usable, instead of opening one under the pause.
   */
  pipe?: RespPipe;
  /** Key arguments from which the swap goes on a pipe (tests of both ways move the line). */
  pipeMinArgs?: number;
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
  opts: SwapOptions = {},
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
  const checkpoint = live.checkpoint(projection.name);
  // A new epoch with the new keys: a runner that kept its records in memory (ProjectionRunner.start)
  // learns that they are not what Redis holds any more, even when the checkpoint did not move.
  const epoch = randomUUID();
  const large = swapArgs({ shadowKeys, stale }) >= (opts.pipeMinArgs ?? PIPE_MIN_ARGS);
  const given = large && opts.pipe?.usable ? opts.pipe : undefined;
  const pipe = given ?? (large ? await RespPipe.open(redis) : undefined);
  if (pipe) {
    let done = false;
    try {
      await swapOnPipe(pipe, stale, shadowKeys, targets, [checkpoint, position], [live.epoch(projection.name), epoch]);
      done = true;
    } finally {
      // A pipe whose swap failed may hold a MULTI never EXECed: closing it discards that, and it is not used again.
      if (pipe !== given || !done) pipe.close();
    }
    return { swapped: shadowKeys.length, deleted: stale.length };
  }
  const multi = redis.multi();
  for (let i = 0; i < stale.length; i += DEL_CHUNK) multi.del(...stale.slice(i, i + DEL_CHUNK));
  for (let i = 0; i < shadowKeys.length; i += RENAME_CHUNK) {
    const pairs: string[] = [];
    const end = Math.min(shadowKeys.length, i + RENAME_CHUNK);
    for (let j = i; j < end; j++) pairs.push(shadowKeys[j]!, targets[j]!);
    multi.eval(RENAME_PAIRS, pairs.length, ...pairs);
  }
  if (position === undefined) multi.del(checkpoint);
  else multi.set(checkpoint, position.toString());
  multi.set(live.epoch(projection.name), epoch);
  const results = await multi.exec();
  const failed = results?.find(([err]) => err);
  if (!results || failed) throw failed?.[0] ?? new Error('read-model swap aborted');
  return { swapped: shadowKeys.length, deleted: stale.length };
}

/**
 * The client's MULTI/EXEC above as protocol text on a pipe: the same DELs, the same renames, the
 * checkpoint and the epoch, in one MULTI/EXEC. ~50k key arguments for a 49k-event log, which
 * ioredis turns into commands at about a microsecond each, under the live runner's pause. As
 * with the client, a command refused when queued aborts the whole EXEC (nothing changes), and
 * an error inside it (a RENAME of a key that vanished) fails the swap after Redis ran the rest of
 * the EXEC, the checkpoint's SET included; the pipe throws the first error either way. (Unlike
 * RENAME_PAIRS, such an error stops only its own RENAME, not the rest of a chunk of 2,000.)
 */
async function swapOnPipe(
  pipe: RespPipe,
  stale: readonly string[],
  shadowKeys: readonly string[],
  targets: readonly string[],
  [checkpoint, position]: [string, bigint | undefined],
  [epochKey, epoch]: [string, string],
): Promise<void> {
  await pipe.command('MULTI', []);
  for (let i = 0; i < stale.length; i += DEL_CHUNK) await pipe.command('DEL', stale.slice(i, i + DEL_CHUNK));
  // A RENAME per key, not RENAME_PAIRS: here a command costs a few concatenations and a reply
  // line, and Redis spends about a third less CPU on RENAMEs queued in the MULTI than on the same
  // RENAMEs called from Lua (the script's KEYS table, a redis.call each), all of it under the pause.
  for (let j = 0; j < shadowKeys.length; j++) {
    const full = pipe.raw(RENAME + bulk(shadowKeys[j]!) + bulk(targets[j]!), 1);
    if (full) await full;
  }
  if (position === undefined) await pipe.command('DEL', [checkpoint]);
  else await pipe.command('SET', [checkpoint, position.toString()]);
  await pipe.command('SET', [epochKey, epoch]);
  await pipe.command('EXEC', []);
  await pipe.finish();
}
