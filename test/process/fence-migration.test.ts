/**
 * A fence while migrations to that host have been handed off but not finished (issue 16), with
 * real worker processes (simulated hosts sharing one storage label, as the fleet logic needs no
 * hypervisor here): host S is evacuated onto T (the only active host); T's finishIncoming never
 * answers (`hangVerbs`), so both VMs' guests were handed to T and their migrations wait on it. T's
 * worker is killed -9, T reads unreachable and is fenced. Then: each migration ends failed naming
 * the fence and the hand-off, the evacuation ends listing both as not moved, the VM with a
 * restartPolicy is recovered once on R, the one without reads crashed on T (where its guest ran),
 * and no VM runs twice: the live hosts' drivers list the recovered VM on R only, nothing on S.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { registerHost, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { storeEvents } from '../support/e2e.js';
import { waitFor } from '../support/wait.js';
import { domains, heartbeatsFrom, WorkerFleet } from '../support/worker-fleet.js';

const DEAD_MS = 2000;
type Json = Record<string, unknown>;

describe('process: a fence of the target of handed-off migrations (an evacuation in progress)', () => {
  let t: TestApp;
  const fleet = new WorkerFleet(() => t, { HOST_DEAD_MS: String(DEAD_MS), WORKER_CONCURRENCY: '4' });
  const storage = join(tmpdir(), 'vl-fence-migration-shared');
  let S = '';
  let T = '';
  let R = '';

  const get = async (path: string): Promise<Json> => (await t.as('viewer').get(path)).body;
  async function create(name: string, restartPolicy?: string): Promise<string> {
    const res = await t.as('operator').post('/v1/vms', {
      name,
      vcpus: 1,
      memoryMiB: 256,
      diskGiB: 1,
      hostId: S,
      ...(restartPolicy ? { restartPolicy } : {}),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal((await waitOperation(t, res.body.operationId as string, 60000)).status, 'succeeded');
    return res.body.vmId as string;
  }

  before(async () => {
    t = await startTestApp({ env: { ROLE: 'api', HOST_DEAD_MS: String(DEAD_MS), JOB_ATTEMPTS: '1' } });
    const uri = (extra = '') => `simulated://?latencyMs=20&storage=${storage}${extra}`;
    const capacity = { vcpus: 8, memoryMiB: 4096 };
    S = await registerHost(t, { name: 'fm-source', driver: 'simulated', uri: uri(), capacity });
    T = await registerHost(t, {
      name: 'fm-target',
      driver: 'simulated',
      uri: uri('&hangVerbs=finishIncoming'),
      capacity,
    });
    R = await registerHost(t, { name: 'fm-rescue', driver: 'simulated', uri: uri(), capacity });
  });
  after(async () => {
    fleet.killAll();
    await t?.close();
  });

  test(
    'the migrations end failed naming the fence, the evacuation ends, one VM recovered once, none twice',
    { timeout: 240000 },
    async () => {
      fleet.start(S);
      const wT = fleet.start(T);
      fleet.start(R);
      await heartbeatsFrom(t, [S, T, R]);
      const healed = await create('fm-always', 'always');
      const pinned = await create('fm-never');

      // R takes nothing for now: the evacuation sends both VMs to T.
      assert.equal((await t.as('admin').post(`/v1/hosts/${R}/drain`, {})).status, 200);
      const ev = await t.as('admin').post(`/v1/hosts/${S}/evacuate`, { reason: 'maintenance' });
      assert.equal(ev.status, 202, JSON.stringify(ev.body));
      const evId = ev.body.operationId as string;
      // Both guests handed off to T, whose finishIncoming never answers.
      await waitFor(
        async () => {
          const handed = (await storeEvents(t)).filter((e) => e.type === 'VmMigrationHandedOff');
          return handed.length === 2 ? handed : undefined;
        },
        { what: 'both migrations handed off to T', timeoutMs: 60000, intervalMs: 100 },
      );
      assert.equal((await get(`/v1/operations/${evId}`)).status, 'running', 'the evacuation waits on T');

      // T dies; an admin fences it once it reads unreachable. R is back in service to take what can move.
      wT.kill('SIGKILL');
      await waitFor(async () => (await get(`/v1/hosts/${T}`)).state === 'unreachable', {
        what: 'T unreachable',
        timeoutMs: 30000,
      });
      assert.equal((await t.as('admin').post(`/v1/hosts/${R}/restore`, {})).status, 200);
      const fenced = await t.as('admin').post(`/v1/hosts/${T}/fence`, { reason: 'T lost power' });
      assert.equal(fenced.status, 200, JSON.stringify(fenced.body));

      // The evacuation ends, naming why neither VM moved; each child migration failed with the fence.
      const evDone = await waitOperation(t, evId, 60000);
      assert.notEqual(evDone.status, 'running');
      const result = evDone.result as { moved: unknown[]; notMoved: Array<{ vmId: string; reason: string }> };
      assert.deepEqual(result.moved, []);
      assert.deepEqual(result.notMoved.map((n) => n.vmId).sort(), [healed, pinned].sort());
      for (const n of result.notMoved) {
        assert.match(n.reason, new RegExp(`target host ${T} was fenced \\(.+\\) after ${S} handed the VM off`));
      }

      // restartPolicy always: recovered on R, once, through a recover operation.
      await waitFor(
        async () => {
          const v = await get(`/v1/vms/${healed}`);
          return v.state === 'running' && v.hostId === R ? v : undefined;
        },
        { what: 'the VM with a restartPolicy recovered on R', timeoutMs: 60000, intervalMs: 200 },
      );
      const events = await storeEvents(t);
      const recoveries = events.filter((e) => e.type === 'VmRecoveryRequested');
      assert.equal(recoveries.length, 1, 'one recovery, for the one VM with a policy');
      assert.equal(recoveries[0]!.streamId, `vm-${healed}`);
      assert.equal(recoveries[0]!.data.fromHostId, T, 'recovered from the host its guest ran on');
      assert.equal((await waitOperation(t, recoveries[0]!.data.operationId as string)).status, 'succeeded');

      // restartPolicy never: down with the fenced host its guest ran on, not on the source.
      const lost = await waitFor(
        async () => {
          const v = await get(`/v1/vms/${pinned}`);
          return v.state === 'crashed' ? v : undefined;
        },
        { what: 'the VM without restartPolicy marked down', timeoutMs: 30000 },
      );
      assert.equal(lost.hostId, T);
      assert.equal((lost.crash as { fence: { hostId: string } }).fence.hostId, T);

      // No VM runs twice: S kept no copy, R runs the recovered one only.
      const onS = (await domains(t, S)).filter((d) => d.managed && [healed, pinned].includes(d.vmId));
      assert.deepEqual(onS, [], 'the source handed its copies off');
      const onR = (await domains(t, R)).filter((d) => d.managed && [healed, pinned].includes(d.vmId));
      assert.deepEqual(
        onR.map((d) => [d.vmId, d.state]),
        [[healed, 'running']],
      );
      // Capacity follows: nothing left reserved on S; R holds the recovered VM.
      assert.equal(((await get(`/v1/hosts/${S}`)).allocated as { vcpus: number }).vcpus, 0);
      assert.equal(((await get(`/v1/hosts/${R}`)).allocated as { vcpus: number }).vcpus, 1);
    },
  );
});
