/**
 * A rebuild's large swap goes on a connection of its own (RespPipe) as one MULTI/EXEC, a small
 * one through the client. Against a real Redis: both leave the live read model the same (records,
 * index members, stale keys gone, checkpoint, a new epoch), in the database and as the user the
 * client was given; a command refused when queued aborts the whole EXEC (nothing moves); an error
 * inside EXEC fails the swap as the client's does. And the pipe reads EXEC's array reply however
 * the bytes arrive.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { Projection } from '../../src/projections/projection.js';
import { ReadModelKeys } from '../../src/projections/read-model.keys.js';
import { deleteKeysWithPrefix } from '../../src/projections/redis-keys.js';
import { RespPipe } from '../../src/projections/resp-pipe.js';
import { planSwap, swapReadModel } from '../../src/projections/swap-read-model.js';
import { testRedisUrl } from '../support/env.js';
import { redisContents, redisForTest } from '../support/redis-for-test.js';

const projection: Projection = {
  name: 'swp',
  owns: (relativeKey) => relativeKey.startsWith('rec:') || relativeKey.startsWith('idx:'),
  apply: async () => undefined,
};

/** Records, more than one RENAME_PAIRS chunk of them (2,000) on the client's way. */
const RECORDS = 2500;

/**
 * A live read model (records 0..99 and `rec:old-*`, an index) and a shadow of RECORDS records
 * (names outside ASCII too) and the index: what a rebuild holds when it swaps.
 */
async function given(redis: Redis, root: string) {
  const live = new ReadModelKeys(root);
  const shadow = live.shadow('s');
  const w = redis.pipeline();
  for (let i = 0; i < 100; i++) w.set(`${live.root}rec:${i}`, `live ${i}`);
  for (let i = 0; i < 30; i++) w.set(`${live.root}rec:old-${i}`, 'stale');
  w.zadd(`${live.root}idx:all`, 1, 'live');
  w.set(live.checkpoint(projection.name), '3');
  w.set(live.epoch(projection.name), 'before');
  const shadowKeys: string[] = [];
  for (let i = 0; i < RECORDS; i++) {
    const key = `${shadow.root}rec:${i}:é✓`;
    shadowKeys.push(key);
    w.set(key, JSON.stringify({ i, text: `"quoted" \r\n ✓ ${i}` }));
  }
  w.zadd(`${shadow.root}idx:all`, 1, 'a', 2, 'b ✓');
  shadowKeys.push(`${shadow.root}idx:all`);
  await w.exec();
  const liveKeys = [
    ...Array.from({ length: 100 }, (_, i) => `${live.root}rec:${i}`),
    ...Array.from({ length: 30 }, (_, i) => `${live.root}rec:old-${i}`),
    `${live.root}idx:all`,
  ];
  return { live, shadow, shadowKeys, liveKeys };
}

describe('a rebuild swap on a pipe of its own', () => {
  const own = redisForTest('vlswappipe');
  const { redis, prefix } = own;
  after(() => own.cleanup());

  /** Swaps `root` by pipe (`pipeMinArgs` 0) or by the client (Infinity); returns the live model after it. */
  async function swap(client: Redis, root: string, byPipe: boolean, pipe?: RespPipe) {
    const { live, shadow, shadowKeys, liveKeys } = await given(client, root);
    const plan = planSwap(live, shadow, liveKeys, shadowKeys);
    const result = await swapReadModel(client, projection, live, shadow, 42n, shadowKeys, liveKeys, plan, {
      pipeMinArgs: byPipe ? 0 : Infinity,
      ...(pipe ? { pipe } : {}),
    });
    return { result, live, shadow };
  }

  test('leaves the live read model as the client swap does', async () => {
    const ends = [];
    for (const byPipe of [true, false]) {
      const root = `${prefix}:${byPipe ? 'pipe' : 'client'}`;
      const { result, live, shadow } = await swap(redis, root, byPipe);
      assert.deepEqual(result, { swapped: RECORDS + 1, deleted: 130 });
      const end = await redisContents(redis, live.root);
      // The epoch is a new random one each time: it changed; the rest is compared whole.
      const epoch = end.get(live.epoch(projection.name).slice(live.root.length)) as { value: string };
      assert.notEqual(epoch.value, 'before');
      end.delete(live.epoch(projection.name).slice(live.root.length));
      assert.equal((await redisContents(redis, shadow.root)).size, 0, 'every shadow key moved');
      ends.push(end);
    }
    const [byPipe, byClient] = ends;
    assert.deepEqual(byPipe, byClient);
    // What a reader sees after it: the shadow's records under their live names, stale ones gone.
    const pipeModel = new ReadModelKeys(`${prefix}:pipe`);
    const root = pipeModel.root;
    assert.equal(await redis.get(`${root}rec:7:é✓`), JSON.stringify({ i: 7, text: '"quoted" \r\n ✓ 7' }));
    assert.equal(await redis.exists(`${root}rec:old-3`, `${root}rec:7`), 0);
    assert.deepEqual(await redis.zrange(`${root}idx:all`, 0, -1), ['a', 'b ✓']);
    assert.equal(await redis.get(pipeModel.checkpoint(projection.name)), '42');
  });

  test('uses a pipe opened before the pause, and leaves it open for its owner', async () => {
    const pipe = await RespPipe.open(redis);
    assert.ok(pipe);
    try {
      const { result } = await swap(redis, `${prefix}:given`, true, pipe);
      assert.equal(result.swapped, RECORDS + 1);
      assert.equal(pipe.usable, true);
    } finally {
      pipe.close();
    }
    // A given pipe that is no longer usable is not used: the swap opens one of its own.
    const { result, live } = await swap(redis, `${prefix}:closed`, true, pipe);
    assert.equal(result.swapped, RECORDS + 1);
    assert.equal(await redis.get(live.checkpoint(projection.name)), '42');
  });

  test('an error inside EXEC fails the swap, as on the client', async () => {
    const states = [];
    for (const byPipe of [true, false]) {
      const { live, shadow, shadowKeys, liveKeys } = await given(redis, `${prefix}:gone-${byPipe}`);
      // A shadow key the swap was told of that is not there: its RENAME fails inside EXEC.
      const known = [...shadowKeys, `${shadow.root}rec:vanished`];
      const plan = planSwap(live, shadow, liveKeys, known);
      await assert.rejects(
        swapReadModel(redis, projection, live, shadow, 42n, known, liveKeys, plan, {
          pipeMinArgs: byPipe ? 0 : Infinity,
        }),
        /no such key/,
      );
      const state = await redisContents(redis, live.root);
      state.delete(live.epoch(projection.name).slice(live.root.length));
      states.push(state);
    }
    // Redis ran the rest of the EXEC either way (it has no rollback): the same keys end up live.
    assert.deepEqual(states[0], states[1]);
  });

  test('runs in the database and as the user the client was given; a refused command moves nothing', async () => {
    const user = `vltest-${randomUUID()}`;
    const password = randomUUID();
    await redis.call('ACL', 'SETUSER', user, 'on', `>${password}`, `~${prefix}:acl:*`, '+@all');
    const asUser = new Redis(testRedisUrl(), { username: user, password, db: 7 });
    const admin = new Redis(testRedisUrl(), { db: 7 });
    try {
      const { live } = await swap(asUser, `${prefix}:acl`, true);
      assert.equal(await asUser.get(live.checkpoint(projection.name)), '42');
      assert.equal(await asUser.exists(`${live.root}rec:9:é✓`), 1);
      assert.equal(await redis.exists(`${live.root}rec:9:é✓`), 0, 'not in database 0');
      // The live namespace outside what the user may write: refused when queued, EXEC aborted.
      const { shadow, shadowKeys } = await given(asUser, `${prefix}:acl:x`);
      const elsewhere = new ReadModelKeys(`${prefix}:elsewhere`);
      const plan = planSwap(elsewhere, shadow, [], shadowKeys);
      await assert.rejects(
        swapReadModel(asUser, projection, elsewhere, shadow, 42n, shadowKeys, [], plan, { pipeMinArgs: 0 }),
        /NOPERM/,
      );
      assert.equal(await admin.exists(elsewhere.checkpoint(projection.name), elsewhere.epoch(projection.name)), 0);
      assert.equal((await redisContents(asUser, shadow.root)).size, RECORDS + 1, 'no shadow key moved');
    } finally {
      await deleteKeysWithPrefix(asUser, `${prefix}:acl`);
      asUser.disconnect();
      admin.disconnect();
      await redis.call('ACL', 'DELUSER', user);
    }
  });
});

describe("a pipe's MULTI/EXEC replies, however the bytes arrive", () => {
  /** A server that answers the first `commands` commands with `reply`, one byte per write. */
  async function server(reply: string) {
    const sockets: Socket[] = [];
    const srv = createServer((socket) => {
      sockets.push(socket);
      socket.setNoDelay(true);
      let got = '';
      socket.on('data', (d) => {
        got += d.toString();
        if (!got.includes('EXEC\r\n')) return;
        const bytes = Buffer.from(reply);
        let i = 0;
        const next = (): void => {
          if (i < bytes.length) socket.write(bytes.subarray(i, ++i), next);
        };
        next();
      });
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const { port } = srv.address() as AddressInfo;
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
    return {
      client,
      close: () => {
        for (const s of sockets) s.destroy();
        srv.close();
      },
    };
  }

  async function exec(reply: string): Promise<void> {
    const { client, close } = await server(reply);
    const pipe = await RespPipe.open(client);
    assert.ok(pipe);
    try {
      await pipe.command('MULTI', []);
      await pipe.command('SET', ['a', '1']);
      await pipe.command('RENAME', ['b', 'c']);
      await pipe.command('EXEC', []);
      await pipe.finish();
    } finally {
      pipe.close();
      close();
    }
  }

  test("EXEC's elements are counted as replies", async () => {
    await exec('+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n:1\r\n');
  });

  test('an element that is an error fails the write with its text', async () => {
    await assert.rejects(exec('+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n-ERR no such key\r\n'), /ERR no such key$/);
  });

  test('a command refused when queued fails the write, EXEC aborted', async () => {
    await assert.rejects(
      exec('+OK\r\n+QUEUED\r\n-NOPERM no rights\r\n-EXECABORT Transaction discarded\r\n'),
      /NOPERM no rights$/,
    );
  });
});
