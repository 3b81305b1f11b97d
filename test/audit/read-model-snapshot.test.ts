/**
 * Reading a live read model for the replay check: with the replay's hint a key
 * is read in one round trip as the replay holds it; a key the hint does not know,
 * or that Redis holds as another type (damage, a stale key), is still read as
 * what it is. Real Redis.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadModelKeys } from '../../src/projections/read-model.keys.js';
import {
  listKeysOfEach,
  listOwnedKeys,
  readRawSnapshot,
  readSnapshot,
  type ReadModelSnapshot,
  type StoredValue,
} from '../../src/projections/read-model-snapshot.js';
import { HostsProjection } from '../../src/projections/hosts.projection.js';
import { VmsProjection } from '../../src/projections/vms.projection.js';
import { redisForTest } from '../support/redis-for-test.js';

describe('readSnapshot with a type hint', () => {
  const own = redisForTest('vlsnap');
  const { redis } = own;
  const keys = new ReadModelKeys(own.prefix);
  const projection = new VmsProjection(keys);

  before(async () => {
    await redis.set(keys.vm('1'), JSON.stringify({ state: { id: '1' } }));
    await redis.zadd(keys.vmIndex(), 1, '1', 2, '2');
    await redis.zadd(keys.operationIndex(), 5, 'a');
    await redis.set(keys.operation('a'), JSON.stringify({ id: 'a' }));
    await redis.hset(keys.vm('h'), 'field', 'value');
    await redis.set(keys.project('p'), JSON.stringify({ name: 'p' }));
    await redis.set(keys.host('x'), JSON.stringify({ id: 'x' })); // another read model's: never read
  });
  after(() => own.cleanup());

  test('right, wrong and missing hints read the same snapshot as no hint', async () => {
    const expected: ReadModelSnapshot = new Map<string, StoredValue>([
      ['vm:1', { type: 'string', value: JSON.stringify({ state: { id: '1' } }) }],
      ['vms', { type: 'zset', members: { '1': 1, '2': 2 } }],
      ['ops', { type: 'zset', members: { a: 5 } }],
      ['op:a', { type: 'string', value: JSON.stringify({ id: 'a' }) }],
      ['vm:h', { type: 'other', redisType: 'hash' }],
      ['project:p', { type: 'string', value: JSON.stringify({ name: 'p' }) }],
    ]);
    const hints: Record<string, 'string' | 'zset'> = {
      'vm:1': 'string',
      vms: 'zset',
      ops: 'string', // wrong: an index
      'op:a': 'zset', // wrong: a record
      'vm:h': 'string', // wrong: a hash
      // project:p: unknown to the hint
    };
    const sorted = (s: ReadModelSnapshot) => new Map([...s].sort(([a], [b]) => a.localeCompare(b)));
    const hinted = await readSnapshot(redis, keys, projection, (k) => hints[k]);
    const plain = await readSnapshot(redis, keys, projection);
    assert.deepEqual(sorted(hinted), sorted(expected));
    assert.deepEqual(sorted(plain), sorted(expected));
  });

  test("one scan lists each read model's keys as its own scan does", async () => {
    const hosts = new HostsProjection(keys);
    const each = await listKeysOfEach(redis, keys, [projection, hosts]);
    for (const p of [projection, hosts])
      assert.deepEqual(each.get(p.name)?.sort(), (await listOwnedKeys(redis, keys, p)).sort(), p.name);
    assert.deepEqual(each.get('hosts'), [keys.host('x')]);
  });

  test('names given to the read are read as the scan would find them; a name of a key that is gone is left out', async () => {
    const listed = [...(await listOwnedKeys(redis, keys, projection)), keys.vm('gone'), keys.operation('gone')];
    const given = await readRawSnapshot(redis, keys, projection, () => 'string', listed);
    const scanned = await readRawSnapshot(redis, keys, projection, () => 'string');
    const sorted = <V>(s: Map<string, V>) => new Map([...s].sort(([a], [b]) => a.localeCompare(b)));
    assert.deepEqual(sorted(given), sorted(scanned));
    assert.equal(given.has('vm:gone'), false);
  });

  test('types given as a list, one per listed name (right, wrong or unknown), read what the hint function reads', async () => {
    const listed = await listOwnedKeys(redis, keys, projection);
    // Wrong for the index `ops`, the record `op:a` and the hash `vm:h`; unknown for `project:p`.
    const hints: Record<string, 'string' | 'zset'> = {
      'vm:1': 'string',
      vms: 'zset',
      ops: 'string',
      'op:a': 'zset',
      'vm:h': 'string',
    };
    const hint = (k: string): 'string' | 'zset' | undefined => hints[k];
    const types = listed.map((k) => hint(keys.relative(k)));
    const fromList = await readRawSnapshot(redis, keys, projection, types, listed);
    const fromHint = await readRawSnapshot(redis, keys, projection, hint, listed);
    const sorted = <V>(s: Map<string, V>) => new Map([...s].sort(([a], [b]) => a.localeCompare(b)));
    assert.deepEqual(sorted(fromList), sorted(fromHint));
    assert.deepEqual([...fromList.keys()].sort(), ['op:a', 'ops', 'project:p', 'vm:1', 'vm:h', 'vms']);
  });
});
