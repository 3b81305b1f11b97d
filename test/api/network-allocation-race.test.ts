/**
 * No two NICs ever get one address, across processes too: two API processes are two
 * AggregateLoaders (each with its own cache) over two connections to one store. 40 VMs race
 * for the 29 addresses of a /27, half through each; exactly 29 win, each with its own address
 * and MAC, and the 11 others are refused as full naming the NIC's field. A VM whose second NIC
 * finds its network full gives back the address its first NIC had taken. SQLite (one file,
 * two handles) and PostgreSQL (one schema, two pools).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AggregateLoader } from '../../src/application/load-aggregate.js';
import { handleCommand } from '../../src/application/handle-command.js';
import { allocateNics, releaseUnlessRecorded } from '../../src/application/network-admission.js';
import { DomainError } from '../../src/domain/domain-error.js';
import { networkDecider } from '../../src/domain/network/network.decider.js';
import { networkStream, vmStream } from '../../src/domain/streams.js';
import { vmDecider } from '../../src/domain/vm/vm.decider.js';
import { createEventStore } from '../../src/eventstore/create-event-store.js';
import type { EventStore } from '../../src/eventstore/event-store.port.js';
import { tempDir, testPostgresUrl, uniqueName } from '../support/env.js';
import { dropPostgresSchema, STORE_KINDS } from '../support/store-kinds.js';

const meta = () => {
  const id = randomUUID();
  return { principal: 'test', correlationId: id, causationId: `test:${id}` };
};

for (const { store: kind, skip } of STORE_KINDS) {
  describe(`network addresses under concurrency from two processes (${kind})`, { skip }, () => {
    const tmp = tempDir('vl-net-race-');
    let url = '';
    const stores: EventStore[] = [];
    let loaders: AggregateLoader[] = [];

    before(async () => {
      if (kind === 'sqlite') url = `sqlite:${join(tmp.dir, 'events.sqlite3')}`;
      else {
        const u = new URL(testPostgresUrl()!);
        u.searchParams.set('schema', uniqueName('vlnet'));
        url = u.toString();
      }
      for (let i = 0; i < 2; i++) {
        const s = createEventStore(url, { dataDir: tmp.dir });
        await s.init();
        stores.push(s);
      }
      loaders = stores.map((s) => new AggregateLoader(s));
    });
    after(async () => {
      for (const s of stores) await s.close();
      await dropPostgresSchema(url);
      tmp.cleanup();
    });

    const createNetwork = async (cidr: string): Promise<string> => {
      const networkId = randomUUID();
      await handleCommand(
        loaders[0]!,
        networkDecider,
        networkStream(networkId),
        { type: 'CreateNetwork', networkId, name: `n-${networkId.slice(0, 8)}`, cidr, nat: false, vni: 1000 },
        meta(),
      );
      return networkId;
    };

    test('40 VMs, 29 addresses: 29 distinct winners, 11 refused as full', async () => {
      const networkId = await createNetwork('10.80.0.0/27');
      // Both loaders have read the stream once: each now decides from its own cached state.
      for (const l of loaders) await l.load(networkDecider, networkStream(networkId));
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          allocateNics(loaders[i % 2]!, `vm-${i}`, 'default', [networkId], 'test', randomUUID()),
        ),
      );
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      assert.equal(won.length, 29);
      assert.equal(lost.length, 11);
      for (const err of lost) {
        assert.ok(err instanceof DomainError, String(err));
        assert.equal(err.code, 'capacity');
        assert.match(err.message, /^nics\[0\]\.networkId: network n-.* is full/);
      }
      assert.equal(new Set(won.map((n) => n.ip)).size, 29);
      assert.equal(new Set(won.map((n) => n.mac)).size, 29);
      const fresh = new AggregateLoader(stores[1]!);
      const { state } = await fresh.load(networkDecider, networkStream(networkId));
      assert.equal(state.allocations.length, 29);
      assert.deepEqual(state.allocations.map((a) => a.ip).sort(), won.map((n) => n.ip).sort());
    });

    test("a VM whose second NIC's network is full gives back its first NIC's address", async () => {
      const open = await createNetwork('10.81.0.0/24');
      const full = await createNetwork('10.82.0.0/29');
      for (let i = 0; i < 5; i++)
        await allocateNics(loaders[0]!, `filler-${i}`, 'default', [full], 'test', randomUUID());
      await assert.rejects(
        allocateNics(loaders[1]!, 'two-nics', 'default', [open, full], 'test', randomUUID()),
        (err: unknown) => err instanceof DomainError && /^nics\[1\]\.networkId: .* is full/.test(err.message),
      );
      const { state } = await new AggregateLoader(stores[0]!).load(networkDecider, networkStream(open));
      assert.deepEqual(state.allocations, []);
    });

    test('a create whose VM was not recorded gives its addresses back; one whose VM was recorded keeps them', async () => {
      const net = await createNetwork('10.83.0.0/24');
      const stream = networkStream(net);
      const failure = new Error('the VM append failed');
      await allocateNics(loaders[0]!, 'lost', 'default', [net], 'test', randomUUID());
      await assert.rejects(releaseUnlessRecorded(loaders[0]!, 'lost', [net], 'test', randomUUID(), failure), failure);
      assert.deepEqual((await loaders[0]!.load(networkDecider, stream)).state.allocations, []);

      const vmId = randomUUID();
      await allocateNics(loaders[0]!, vmId, 'default', [net], 'test', randomUUID());
      await handleCommand(
        loaders[0]!,
        vmDecider,
        vmStream(vmId),
        {
          type: 'CreateVm',
          vmId,
          operationId: randomUUID(),
          spec: { name: 'kept', vcpus: 1, memoryMiB: 64, diskGiB: 1 },
          hostId: null,
          start: false,
        },
        meta(),
      );
      await assert.rejects(releaseUnlessRecorded(loaders[1]!, vmId, [net], 'test', randomUUID(), failure), failure);
      assert.equal((await loaders[1]!.load(networkDecider, stream)).state.allocations.length, 1);
    });
  });
}
