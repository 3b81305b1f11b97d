import type { Redis } from 'ioredis';
import { bulk, commandText, PIPE_MIN_ARGS, RespPipe } from './resp-pipe.js';

/** Commands per pipelined chunk when a fold is written out (MemoryFold.flush). */
const FLUSH_CHUNK = 50;
/**
 * Bytes of arguments per pipelined chunk (and per MSET): a chunk goes out as one string
 * write, and writes of a few MiB (50 MSETs of 250 records) cost the client about twice the
 * CPU per byte of writes under 64 KiB (the string is flattened and encoded in one piece,
 * and what the socket does not take at once is copied and queued).
 */
const FLUSH_BYTES = 48 * 1024;
/** Chunks sent before the first of them must have answered: Redis works on these while the next is built. */
const IN_FLIGHT = 16;
/** Records per MSET. */
const MSET_PAIRS = 250;
/** Index members per ZADD. */
const ZADD_MEMBERS = 500;
/**
 * What one write of a fold sends, in this order: the DELs, the records (`values[i]` at
 * `keys[i]`, each serialised as its chunk is built; one that is undefined is skipped),
 * the index members, the ZREMs, then the checkpoint.
 */
export interface FoldChanges {
  removed: readonly string[];
  /**
   * The records as two lists side by side: a fold's first write takes both straight from its
   * map, where a look-up per key cost about a microsecond each (25k records gone cold in the cache).
   */
  records: { keys: readonly string[]; values: readonly unknown[] };
  members: ReadonlyArray<readonly [string, ReadonlyMap<string, number>]>;
  removedMembers: ReadonlyArray<readonly [string, ReadonlySet<string>]>;
  /** Written last, once every chunk before it succeeded (a shadow's checkpoint never claims missing writes). */
  checkpoint: { key: string; position: bigint };
}

/**
 * Writes `changes` (not in one MULTI: nobody reads a shadow namespace until its swap), then
 * the checkpoint once every write before it succeeded, and returns how many keys it wrote.
 * A large write goes on a connection of its own as protocol text built here (RespPipe), a
 * small one through the client in pipelined chunks (`pipeMinArgs` moves the line: tests of both ways).
 */
export async function writeFoldChanges(
  redis: Redis,
  changes: FoldChanges,
  pipeMinArgs = PIPE_MIN_ARGS,
): Promise<number> {
  let args = changes.removed.length + changes.records.keys.length * 2;
  for (const [, members] of changes.members) args += members.size * 2;
  const pipe = args >= pipeMinArgs ? await RespPipe.open(redis) : undefined;
  let written: number;
  if (pipe) {
    try {
      written = await writeOnPipe(pipe, changes);
    } finally {
      pipe.close();
    }
  } else written = await writeWithClient(redis, changes);
  const { checkpoint } = changes;
  await redis.set(checkpoint.key, checkpoint.position.toString());
  return written;
}

/** writeWithClient's commands, in its order, as protocol text on a pipe; every reply awaited. */
async function writeOnPipe(pipe: RespPipe, changes: FoldChanges): Promise<number> {
  let written = 0;
  const { removed } = changes;
  for (let i = 0; i < removed.length; i += MSET_PAIRS) {
    const chunk = removed.slice(i, i + MSET_PAIRS);
    await pipe.command('DEL', chunk);
    written += chunk.length;
  }
  let text = '';
  let pairs = 0;
  const mset = () => pipe.raw(commandText('MSET', pairs * 2, text), 1);
  const { keys, values } = changes.records;
  for (let i = 0; i < keys.length; i++) {
    const json = JSON.stringify(values[i]) as string | undefined;
    if (json === undefined) continue;
    text += bulk(keys[i]!) + bulk(json);
    written++;
    if (++pairs >= MSET_PAIRS || text.length >= FLUSH_BYTES) {
      await mset();
      text = '';
      pairs = 0;
    }
  }
  if (pairs) await mset();
  for (const [key, members] of changes.members) {
    const head = bulk(key);
    let n = 0;
    text = '';
    const zadd = () => pipe.raw(commandText('ZADD', n * 2 + 1, head + text), 1);
    for (const [member, score] of members) {
      // A score as the client would send it (String of the number).
      text += bulk(String(score)) + bulk(member);
      if (++n >= ZADD_MEMBERS) {
        await zadd();
        text = '';
        n = 0;
      }
    }
    if (n) await zadd();
    written++;
  }
  for (const [key, members] of changes.removedMembers) {
    if (members.size === 0) continue;
    await pipe.command('ZREM', [key, ...members]);
    written++;
  }
  await pipe.finish();
  return written;
}

/** The same writes through the client, in pipelined chunks. */
async function writeWithClient(redis: Redis, changes: FoldChanges): Promise<number> {
  let pipe = redis.pipeline();
  let queued = 0;
  let queuedBytes = 0;
  const inFlight: Array<Promise<void>> = [];
  const check = async (sent: ReturnType<typeof pipe.exec>): Promise<void> => {
    const results = await sent;
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('shadow write aborted');
  };
  // Every chunk is awaited (in order: one connection answers in order) before the checkpoint is sent.
  const drain = async (until: number): Promise<void> => {
    while (inFlight.length > until) await inFlight.shift();
  };
  const send = async (): Promise<void> => {
    if (queued === 0) return;
    const sent = check(pipe.exec());
    sent.catch(() => undefined); // awaited by drain; never an unhandled rejection meanwhile
    inFlight.push(sent);
    pipe = redis.pipeline();
    queued = 0;
    queuedBytes = 0;
    await drain(IN_FLIGHT - 1);
  };
  /** `bytes`: about what the command's arguments weigh (only to cut the chunks). */
  const queue = async (command: (p: typeof pipe) => void, bytes = 0): Promise<void> => {
    command(pipe);
    queuedBytes += bytes;
    if (++queued >= FLUSH_CHUNK || queuedBytes >= FLUSH_BYTES) await send();
  };
  let written = 0;
  // Deleted records first: a record deleted then written again since the last flush ends up written.
  const { removed } = changes;
  for (let i = 0; i < removed.length; i += MSET_PAIRS) {
    const chunk = removed.slice(i, i + MSET_PAIRS);
    await queue((p) => p.del(...chunk));
    written += chunk.length;
  }
  // Records in MSETs of a few hundred: one command per record cost more in the client than the JSON itself.
  let pairs: string[] = [];
  let pairBytes = 0;
  const { keys, values } = changes.records;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const json = JSON.stringify(values[i]) as string | undefined;
    if (json === undefined) continue;
    pairs.push(key, json);
    pairBytes += key.length + json.length;
    written++;
    if (pairs.length >= MSET_PAIRS * 2 || pairBytes >= FLUSH_BYTES) {
      const args = pairs;
      await queue((p) => p.mset(...args), pairBytes);
      pairs = [];
      pairBytes = 0;
    }
  }
  if (pairs.length) await queue((p) => p.mset(...pairs), pairBytes);
  for (const [key, members] of changes.members) {
    let args: Array<string | number> = [];
    let argBytes = key.length;
    for (const [member, score] of members) {
      args.push(score, member);
      // A score is written as its decimal digits: a dozen bytes is enough for the estimate.
      argBytes += member.length + 12;
      if (args.length >= ZADD_MEMBERS * 2) {
        const chunk = args;
        await queue((p) => p.zadd(key, ...chunk), argBytes);
        args = [];
        argBytes = key.length;
      }
    }
    if (args.length) await queue((p) => p.zadd(key, ...args), argBytes);
    written++;
  }
  for (const [key, members] of changes.removedMembers) {
    if (members.size === 0) continue;
    const gone = [...members];
    await queue((p) => p.zrem(key, ...gone));
    written++;
  }
  await send();
  await drain(0);
  return written;
}
