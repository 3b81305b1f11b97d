/**
 * A live migration's source gets ready while its target prepares: the target's worker announces
 * the migration when it takes prepareIncoming, and the source host's worker (only that one) hands it
 * to its driver's prepareOutgoing. A driver without prepareOutgoing subscribes to nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { HostJobData } from '../../src/application/jobs.js';
import type { HypervisorDriver } from '../../src/drivers/hypervisor-driver.port.js';
import { MigrationShortcuts } from '../../src/workers/migration-shortcuts.js';
import { QueueHub } from '../../src/workers/queue-hub.js';
import { redisOptions } from '../../src/runtime/redis-connection.js';
import { testRedisUrl } from '../support/env.js';
import { redisForTest } from '../support/redis-for-test.js';
import { waitFor } from '../support/wait.js';

const log = pino({ level: 'silent' });

function prepareJob(vmId: string, sourceHostId: string | undefined, live = true) {
  return {
    vmId,
    operationId: `op-${vmId}`,
    spec: { id: vmId, name: vmId, vcpus: 1, memoryMiB: 64, diskGiB: 1 },
    principal: 'alice',
    causationId: `ev-${vmId}`,
    step: 'prepareIncoming',
    args: { live, ...(sourceHostId ? { sourceHostId } : {}) },
  } as Extract<HostJobData, { step: 'prepareIncoming' }>;
}

/** Records the VM ids its prepareOutgoing was called with (the rest of the driver is never called). */
function readyDriver(calls: string[]): HypervisorDriver {
  return {
    prepareOutgoing: (vmId: string) => {
      calls.push(vmId);
      return Promise.resolve();
    },
  } as unknown as HypervisorDriver;
}

describe('migration hints: the source is told when its target begins', () => {
  const own = redisForTest('vltest-hints');
  const { redis, prefix } = own;
  let hub: QueueHub;
  const shortcuts: MigrationShortcuts[] = [];
  const made = () => {
    const s = new MigrationShortcuts(hub, log);
    shortcuts.push(s);
    return s;
  };

  before(() => {
    hub = new QueueHub({
      connection: redisOptions(testRedisUrl()),
      prefix,
      attempts: 1,
      backoffMs: 10,
    });
  });
  after(async () => {
    for (const s of shortcuts) await s.close();
    await hub.close();
    await own.cleanup();
  });

  test("a live prepare reaches the source host's driver only; a cold one or one without a source, none", async () => {
    const onSource: string[] = [];
    const onOther: string[] = [];
    await made().serveHints('src-host', readyDriver(onSource));
    await made().serveHints('other-host', readyDriver(onOther));
    const target = made();

    target.announceSource(prepareJob('vm-cold', 'src-host', false));
    target.announceSource(prepareJob('vm-nosource', undefined));
    target.announceSource(prepareJob('vm-live', 'src-host'));
    // Pub/sub keeps one publisher's order: once the live one arrived, the two before it would have.
    await waitFor(() => onSource.length > 0, { what: "the source's driver to be told" });
    assert.deepEqual(onSource, ['vm-live']);
    assert.deepEqual(onOther, [], 'another host is not told');
  });

  test('a driver that cannot get ready subscribes to nothing', async () => {
    const before = (await redis.call('PUBSUB', 'NUMSUB', `${prefix}:migration-hints`)) as [string, number];
    await made().serveHints('plain-host', {} as HypervisorDriver);
    const afterNum = (await redis.call('PUBSUB', 'NUMSUB', `${prefix}:migration-hints`)) as [string, number];
    assert.equal(afterNum[1], before[1]);
  });
});
