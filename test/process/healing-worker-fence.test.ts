/**
 * A host fenced by its own worker: a worker process run with WORKER_FENCE_ON_SHUTDOWN=1 that is
 * stopped (SIGTERM, as a machine going down would) force-stops every VM of its host and says so;
 * the control plane records HostFenced with that confirmation, and the VMs it could not recover
 * (no shared storage here) read crashed with the fence. A worker back for the host → in service.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { DomainFileStore } from '../../src/drivers/simulated/domain-file-store.js';
import { createVm, registerHost, startTestApp, type TestApp } from '../support/app.js';
import { storeEvents } from '../support/e2e.js';
import { waitFor } from '../support/wait.js';
import { WorkerFleet } from '../support/worker-fleet.js';

describe('process: a worker fences its host on shutdown', () => {
  let t: TestApp;
  const fleet = new WorkerFleet(() => t, { HOST_DEAD_MS: '2000', SHUTDOWN_GRACE_MS: '2000' });

  /** `fence`: the worker fences its own host when it is stopped (WORKER_FENCE_ON_SHUTDOWN). */
  const worker = (hostId: string, fence: boolean) =>
    fleet.start(hostId, fence ? { WORKER_FENCE_ON_SHUTDOWN: '1' } : {});
  const host = async (id: string) => (await t.as('viewer').get(`/v1/hosts/${id}`)).body;

  before(async () => {
    t = await startTestApp({ env: { ROLE: 'api', HOST_DEAD_MS: '2000' } });
  });
  after(async () => {
    fleet.killAll();
    await t?.close();
  });

  test('SIGTERM: every VM force-stopped, HostFenced (kind worker) naming them, the VMs read crashed with the fence', async () => {
    const hostId = await registerHost(t, { name: 'wf-a' });
    const w = worker(hostId, true);
    await waitFor(async () => (await t.runtime.hub.heartbeats())[hostId], { what: 'a heartbeat', timeoutMs: 90000 });
    const { vmId: kept } = await createVm(t, { hostId, restartPolicy: 'on-crash' });
    const { vmId: plain } = await createVm(t, { hostId });
    w.kill('SIGTERM');
    await once(w, 'exit');
    const fenced = await waitFor(
      async () => {
        const h = await host(hostId);
        return h.state === 'fenced' ? h : undefined;
      },
      { what: 'the host fenced by its worker', timeoutMs: 60000 },
    );
    assert.equal(fenced.fenced.evidenceKind, 'worker');
    assert.match(fenced.fenced.by, /^system:worker@/);
    const event = (await storeEvents(t)).find((e) => e.type === 'HostFenced')!;
    const evidence = event.data.evidence as { kind: string; stoppedVms: string[] };
    assert.deepEqual([...evidence.stoppedVms].sort(), [kept, plain].sort());
    // The driver's own files say so: nothing runs on the host any more.
    const files = new DomainFileStore(join(t.dataDir, 'hosts', hostId));
    for (const id of [kept, plain]) assert.equal(files.read(id)?.state, 'stopped');
    for (const id of [kept, plain]) {
      const v = await waitFor(
        async () => {
          const body = (await t.as('viewer').get(`/v1/vms/${id}`)).body;
          return body.state === 'crashed' ? body : undefined;
        },
        { what: `${id} down with its host`, timeoutMs: 60000 },
      );
      assert.equal(v.crash.fence.hostId, hostId);
    }
    const reasons = await Promise.all(
      [kept, plain].map(async (id) => (await t.as('viewer').get(`/v1/vms/${id}`)).body.crash.reason as string),
    );
    assert.match(reasons[0]!, /no other host shares it: needs attention/);
    assert.match(reasons[1]!, /restartPolicy is never/);

    // The host's worker is back: the host is in service again.
    worker(hostId, false);
    await waitFor(async () => (await host(hostId)).state === 'active', { what: 'the host back', timeoutMs: 90000 });
  });
});
