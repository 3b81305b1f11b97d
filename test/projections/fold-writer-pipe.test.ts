/**
 * A fold's large writes go on a connection of their own as protocol text built by hand
 * (RespPipe), small ones through the client: both must leave Redis holding the same keys,
 * values and index members (text outside ASCII, quotes and line ends included), in the
 * database and as the user the client was given, and a refused command must fail the write
 * before its checkpoint is set.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { writeFoldChanges, type FoldChanges } from '../../src/projections/fold-writer.js';
import { deleteKeysWithPrefix } from '../../src/projections/redis-keys.js';
import { testRedisUrl } from '../support/env.js';
import { redisContents, redisForTest } from '../support/redis-for-test.js';

/** A first write and a later one (records deleted, rewritten and new; members added and removed). */
function writes(root: string): [FoldChanges, FoldChanges] {
  const keys: string[] = [];
  const values: unknown[] = [];
  for (let i = 0; i < 600; i++) {
    keys.push(`${root}rec:${i}:é✓`);
    values.push({ i, text: `line\r\nend "quoted" \\ ✓ 𝄞 é ${i}`, nested: { list: [i, null, true], empty: {} } });
  }
  // A value that serialises to nothing is skipped, as the client path skips it.
  keys.push(`${root}rec:undefined`);
  values.push(undefined);
  const big = new Map<string, number>();
  for (let i = 0; i < 1200; i++) big.set(`member ${i} ✓`, i + 0.5);
  const small = new Map<string, number>([['only', 7]]);
  const first: FoldChanges = {
    removed: [],
    records: { keys, values },
    members: [
      [`${root}idx:big`, big],
      [`${root}idx:small`, small],
    ],
    removedMembers: [],
    checkpoint: { key: `${root}checkpoint`, position: 10n },
  };
  const second: FoldChanges = {
    removed: [`${root}rec:0:é✓`, `${root}rec:1:é✓`],
    records: { keys: [`${root}rec:1:é✓`, `${root}rec:new`], values: [{ back: true }, 'plain'] },
    members: [[`${root}idx:small`, new Map([['added', 8]])]],
    removedMembers: [[`${root}idx:big`, new Set(['member 3 ✓', 'member 1199 ✓'])]],
    checkpoint: { key: `${root}checkpoint`, position: 20n },
  };
  return [first, second];
}

describe('a fold written on a pipe of its own', () => {
  const own = redisForTest('vltest-pipe');
  const { redis, prefix } = own;
  after(() => own.cleanup());

  test('leaves Redis as the client does, write after write', async () => {
    const byPipe = `${prefix}:pipe:`;
    const byClient = `${prefix}:client:`;
    const [p1, p2] = writes(byPipe);
    const [c1, c2] = writes(byClient);
    assert.equal(await writeFoldChanges(redis, p1, 0), await writeFoldChanges(redis, c1, Infinity));
    assert.deepEqual(await redisContents(redis, byPipe), await redisContents(redis, byClient));
    assert.equal(await writeFoldChanges(redis, p2, 0), await writeFoldChanges(redis, c2, Infinity));
    const written = await redisContents(redis, byPipe);
    assert.deepEqual(written, await redisContents(redis, byClient));
    // What the second write did, read back: deleted, written again, removed members gone.
    assert.equal(written.has('rec:0:é✓'), false);
    assert.deepEqual(written.get('rec:1:é✓'), { type: 'string', value: '{"back":true}' });
    assert.equal(
      await redis.get(`${byPipe}rec:5:é✓`),
      JSON.stringify({ i: 5, text: 'line\r\nend "quoted" \\ ✓ 𝄞 é 5', nested: { list: [5, null, true], empty: {} } }),
    );
    assert.equal(await redis.zscore(`${byPipe}idx:big`, 'member 3 ✓'), null);
    assert.equal(await redis.zscore(`${byPipe}idx:big`, 'member 4 ✓'), '4.5');
    assert.equal(await redis.zcard(`${byPipe}idx:big`), 1198);
    assert.equal(await redis.get(`${byPipe}checkpoint`), '20');
  });

  test('writes into the database the client selected', async () => {
    const other = new Redis(testRedisUrl(), { db: 7 });
    const root = `${prefix}:db7:`;
    try {
      const [first] = writes(root);
      await writeFoldChanges(other, first, 0);
      assert.equal(await other.zcard(`${root}idx:big`), 1200);
      assert.equal(await redis.exists(`${root}idx:big`), 0);
    } finally {
      await deleteKeysWithPrefix(other, prefix);
      other.disconnect();
    }
  });

  test('authenticates as the user the client was given', async () => {
    const user = `vltest-${randomUUID()}`;
    const password = randomUUID();
    const root = `${prefix}:acl:`;
    await redis.call('ACL', 'SETUSER', user, 'on', `>${password}`, `~${prefix}:acl:*`, '+@all');
    const asUser = new Redis(testRedisUrl(), { username: user, password });
    try {
      const [first] = writes(root);
      await writeFoldChanges(asUser, first, 0);
      assert.equal(await redis.zcard(`${root}idx:big`), 1200);
      // Outside the keys the user may write, the pipe is refused like the client: the write fails, no checkpoint.
      const [outside] = writes(`${prefix}:elsewhere:`);
      await assert.rejects(
        writeFoldChanges(asUser, { ...outside, checkpoint: { key: `${root}cp`, position: 1n } }, 0),
        /NOPERM/,
      );
      assert.equal(await redis.exists(`${root}cp`), 0);
    } finally {
      asUser.disconnect();
      await redis.call('ACL', 'DELUSER', user);
    }
  });
});
