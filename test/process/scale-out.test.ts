/**
 * Several API processes against one PostgreSQL (a schema of this run) and one
 * Redis (a prefix of this run), as real processes: one owns the control-plane
 * lease and runs the sagas, projections, sealer and host watch; every one
 * serves HTTP and reads its own writes; kill -9 the owner and another takes
 * over within the lease TTL while commands keep completing, each once; a
 * rebuild asked of a standby pauses the owner's runner; rate limits are one
 * budget per principal across the processes.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiFleet, type ApiMember } from '../../chaos/support/api-fleet.js';
import { ledgerFigures, readLog } from '../../chaos/support/ledger-check.js';
import { Operations } from '../../chaos/support/operations.js';
import { testPostgresUrl, testRedisUrl, uniqueName } from '../support/env.js';
import { redisForTest } from '../support/redis-for-test.js';
import { dropPostgresSchema } from '../support/store-kinds.js';
import { waitFor } from '../support/wait.js';

const base = testPostgresUrl();
const skip = base ? false : 'TEST_POSTGRES_URL not set (several API processes need a shared PostgreSQL store)';
const TTL_MS = 3000;
/** The failover bound the issue sets: the lease TTL plus a standby's retry, well inside it. */
const FAILOVER_MS = 5000;

function schemaUrl(): string {
  const u = new URL(base!);
  u.searchParams.set('schema', uniqueName('vlscale'));
  return u.toString();
}

/** How many times the simulated driver booted each VM (its domain file counts them). */
function bootCounts(storageDir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of readdirSync(storageDir)) {
    if (!f.endsWith('.sim.json')) continue;
    const d = JSON.parse(readFileSync(join(storageDir, f), 'utf8')) as { bootCount: number };
    out.set(f.slice(0, -'.sim.json'.length), d.bootCount);
  }
  return out;
}

const vm = (name: string, hostId: string) => ({ name, vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId });

/** The revision an answer's ETag names ("7" → 7n); fails when it has none. */
function revisionOf(r: { etag?: string }): bigint {
  const m = /^"(\d+)"$/.exec(r.etag ?? '');
  assert.ok(m, `an ETag "<revision>": ${r.etag}`);
  return BigInt(m[1]!);
}

describe('scale out: three API processes on one PostgreSQL and one Redis', { skip }, () => {
  let fleet: ApiFleet;
  let storeUrl: string;
  // The API processes write under the prefix; this file connects only to clean up.
  const own = redisForTest('vlscale');
  const { prefix } = own;
  let hostId: string;
  let ops: Operations;

  /** Follows every accepted operation to its end through a process still running. */
  async function settle(timeoutMs: number): Promise<void> {
    const through = new Operations(fleet.alive[0]!.client);
    for (const o of ops.ops.values()) through.ops.set(o.id, o);
    await through.waitAll(timeoutMs);
    for (const o of ops.ops.values()) assert.equal(o.status, 'succeeded', JSON.stringify(o));
  }

  before(async () => {
    storeUrl = schemaUrl();
    fleet = await ApiFleet.start({
      name: 'scale',
      apis: 3,
      redisUrl: testRedisUrl(),
      redisPrefix: prefix,
      eventStoreUrl: storeUrl,
      env: {
        LEASE_TTL_MS: String(TTL_MS),
        // The rebuild test reads the owner's log for its pause.
        LOG_LEVEL: 'info',
        RATE_LIMIT_BURST: '0',
        RATE_LIMIT_PER_MINUTE: '0',
      },
    });
    hostId = await fleet.registerHost('scale-h1', 'simulated://?latencyMs=50');
    fleet.startWorker('worker', [hostId]);
    ops = new Operations(fleet.members[0]!.client);
    // Which process owns the lease at first is not this test's business: follow operations through live ones.
  });

  after(async () => {
    await fleet?.close();
    if (storeUrl) await dropPostgresSchema(storeUrl);
    await own.cleanup();
  });

  /** A create through `m`, then its VM and operation read back through the same process at once. */
  async function createAndReadBack(m: ApiMember, name: string): Promise<string> {
    const tracked = new Operations(m.client);
    const r = await tracked.send('POST', '/v1/vms', vm(name, hostId));
    assert.equal(r.status, 202, `api${m.index}: ${JSON.stringify(r.body)}`);
    const vmId = r.body.vmId as string;
    const opId = r.body.operationId as string;
    const read = await m.client.get(`/v1/vms/${vmId}`);
    assert.equal(read.status, 200, `read-your-writes on api${m.index}: ${JSON.stringify(read.body)}`);
    assert.equal(read.body.name, name);
    assert.ok(revisionOf(read) >= revisionOf(r), `api${m.index}: GET ETag ${read.etag} >= the 202's ${r.etag}`);
    const op = await m.client.get(`/v1/operations/${opId}`);
    assert.equal(op.status, 200, `the operation read back on api${m.index}: ${JSON.stringify(op.body)}`);
    // The list has no log to fall back on: on a standby it waits for the owner's checkpoint to pass the create.
    const listed = await m.client.get(`/v1/vms?name=${name}`);
    assert.deepEqual(
      (listed.body.items as Array<{ id: string }>).map((v) => v.id),
      [vmId],
      `the list on api${m.index} has the VM just created there`,
    );
    ops.ops.set(opId, { id: opId, vmId, what: `create ${name} on api${m.index}` });
    return vmId;
  }

  test('one owner; every process serves writes and reads its own writes', async () => {
    const leases = await fleet.leases();
    const owners = leases.filter((l) => l.lease?.owner);
    assert.equal(owners.length, 1, JSON.stringify(leases.map((l) => l.lease)));
    assert.ok((owners[0]!.lease!.fence ?? 0) >= 1, 'the owner holds a fencing token');
    // /metrics says the same, for alerting on "no owner" or "two owners".
    for (const { member, lease } of leases) {
      const res = await fetch(`http://127.0.0.1:${member.port}/metrics`);
      const owner = /^virtledger_control_plane_owner (\d)$/m.exec(await res.text())?.[1];
      assert.equal(owner, lease?.owner ? '1' : '0', `api${member.index} /metrics`);
    }
    const created = [];
    for (const m of fleet.members) created.push(await createAndReadBack(m, `ryw-${m.index}`));
    await settle(60_000);
    // Commands on a running VM, then a read through the same process: it shows the revision of each 202
    // (pause, then resume: the VM ends as it was, and no boot is added to the count the next test checks).
    for (const verb of ['pause', 'resume']) {
      for (const [i, m] of fleet.members.entries()) {
        const r = await new Operations(m.client).send('POST', `/v1/vms/${created[i]!}/${verb}`, {});
        assert.equal(r.status, 202, `${verb} on api${m.index}: ${JSON.stringify(r.body)}`);
        ops.ops.set(r.body.operationId as string, { id: r.body.operationId as string, vmId: created[i]!, what: verb });
        const read = await m.client.get(`/v1/vms/${created[i]!}`);
        assert.ok(revisionOf(read) >= revisionOf(r), `api${m.index}: GET ETag ${read.etag} >= the 202's ${r.etag}`);
      }
      await settle(60_000);
    }
  });

  test('kill -9 the owner: another takes over within the lease TTL, commands complete through the others, each once', async () => {
    const before = await fleet.leases();
    const old = before.find((l) => l.lease?.owner)!;
    const survivors = fleet.alive.filter((m) => m !== old.member);
    // Commands in flight across the kill: creates, and stops/starts of the VMs made above.
    const vmIds = [...ops.ops.values()].map((o) => o.vmId);
    const sends: Array<Promise<unknown>> = [];
    for (const [i, id] of vmIds.entries()) {
      const through = new Operations(survivors[i % survivors.length]!.client);
      sends.push(
        through.send('POST', `/v1/vms/${id}/stop`, { force: true }).then((r) => {
          if (r.status === 202)
            ops.ops.set(r.body.operationId as string, { id: r.body.operationId as string, vmId: id, what: 'stop' });
        }),
      );
    }
    await old.member.proc.kill9();
    const killedAt = Date.now();
    for (let i = 0; i < 6; i++) {
      const m = survivors[i % survivors.length]!;
      sends.push(
        new Operations(m.client).send('POST', '/v1/vms', vm(`after-kill-${i}`, hostId)).then((r) => {
          assert.equal(r.status, 202, JSON.stringify(r.body));
          ops.ops.set(r.body.operationId as string, {
            id: r.body.operationId as string,
            vmId: r.body.vmId as string,
            what: `create after-kill-${i}`,
          });
        }),
      );
    }
    const next = await waitFor(async () => fleet.owner(), {
      what: 'a surviving process to own the lease',
      timeoutMs: FAILOVER_MS,
      intervalMs: 50,
    });
    const tookMs = Date.now() - killedAt;
    assert.notEqual(next, old.member);
    const nextLease = (await fleet.leases()).find((l) => l.member === next)!.lease!;
    assert.ok(nextLease.fence! > old.lease!.fence!, `fence ${nextLease.fence} after ${old.lease!.fence}`);
    await Promise.all(sends);

    // Every accepted command completes, once: one operation result each, and one boot per VmStarted.
    await settle(90_000);
    for (const m of survivors) await createAndReadBack(m, `after-failover-${m.index}`);
    await settle(60_000);
    const log = await readLog(storeUrl, fleet.dataDir);
    const ledger = ledgerFigures(log, ops.ops.keys());
    assert.deepEqual(ledger.lost, []);
    assert.deepEqual(ledger.duplicates, []);
    const boots = bootCounts(fleet.hostStorage(hostId));
    for (const [vmId, count] of boots) {
      const started = log.filter((e) => e.streamId === `vm-${vmId}` && e.type === 'VmStarted').length;
      assert.equal(count, started, `VM ${vmId} booted ${count} times for ${started} VmStarted events`);
    }
    console.log(`failover: a new owner in ${tookMs} ms (lease TTL ${TTL_MS} ms)`);

    // The killed process comes back as a standby: the owner keeps the lease, and it serves like the others.
    old.member.proc.start();
    await old.member.client.waitHealthy(60_000);
    const back = (await fleet.leases()).find((l) => l.member === old.member)!.lease!;
    assert.equal(back.owner, false, 'the restarted process does not take the lease back');
    assert.equal(await fleet.owner(), next);
    await createAndReadBack(old.member, 'after-restart');
    await settle(60_000);
  });

  test('a rebuild asked of a standby pauses the owner’s runner; the read model equals the log after', async () => {
    const owner = (await fleet.owner())!;
    const standby = fleet.alive.find((m) => m !== owner)!;
    const res = await standby.client.post('/v1/projections/vms/rebuild', { reason: 'scale-out test', batchSize: 50 });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const opId = res.body.operationId as string;
    // A command accepted while the rebuild runs, through the owner: it must survive the swap.
    const during = await createAndReadBack(owner, 'during-rebuild');
    const rebuilt = await waitFor(
      async () => {
        const op = await standby.client.get(`/v1/operations/${opId}?waitMs=5000`);
        return op.body.status !== 'running' && op.body;
      },
      { what: 'the rebuild to end', timeoutMs: 120_000, intervalMs: 100 },
    );
    assert.equal(rebuilt.status, 'succeeded', JSON.stringify(rebuilt));
    const ownerLog = readFileSync(join(fleet.workDir, `api${owner.index}.log`), 'utf8');
    assert.ok(
      ownerLog
        .split('\n')
        .some((l) => l.includes('projection paused for another process') && l.includes('"projection":"vms"')),
      'the owner paused its vms runner for the rebuild',
    );
    await settle(60_000);
    for (const m of fleet.alive) {
      const v = await m.client.get(`/v1/vms/${during}`);
      assert.equal(v.status, 200);
      assert.equal(v.body.state, 'running');
    }
    const check = await standby.client.get('/v1/audit/replay-check');
    assert.equal(check.status, 200, JSON.stringify(check.body));
    assert.deepEqual(check.body.differences, []);
    assert.equal(check.body.consistent, true);
  });
});

describe('scale out: rate limits are one budget per principal across API processes', { skip }, () => {
  let fleet: ApiFleet;
  let storeUrl: string;
  const own = redisForTest('vlrate');
  const { prefix } = own;
  const LIMIT = 9;

  before(async () => {
    storeUrl = schemaUrl();
    fleet = await ApiFleet.start({
      name: 'rate',
      apis: 3,
      redisUrl: testRedisUrl(),
      redisPrefix: prefix,
      eventStoreUrl: storeUrl,
      env: { RATE_LIMIT_PER_MINUTE: String(LIMIT), RATE_LIMIT_BURST: '0' },
    });
  });

  after(async () => {
    await fleet?.close();
    if (storeUrl) await dropPostgresSchema(storeUrl);
    await own.cleanup();
  });

  test('the budget spent on one process is spent on all of them', async () => {
    // LIMIT requests spread over the three processes (three each): every one allowed.
    for (let i = 0; i < LIMIT; i++) {
      const r = await fleet.members[i % 3]!.client.get('/v1/vms');
      assert.equal(r.status, 200, `request ${i} on api${i % 3}: ${JSON.stringify(r.body)}`);
    }
    // Counted per process, each would have six left; counted in Redis, none has any.
    for (const m of fleet.members) {
      const r = await m.client.get('/v1/hosts');
      assert.equal(r.status, 429, `api${m.index}: ${JSON.stringify(r.body)}`);
      assert.match(String(r.body.message), new RegExp(`at most ${LIMIT} requests per minute`));
    }
  });
});
