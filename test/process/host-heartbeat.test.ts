/**
 * Workers heartbeat; the control plane notices silence. Real worker processes
 * (simulated driver) beside an API-only app: `kill -9` one and its host reads
 * `unreachable` with the evidence, placement goes elsewhere; a new worker for
 * it and the host is `active` again. The other host is never touched.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createVm, registerHost, startTestApp, type TestApp } from '../support/app.js';
import { storeEvents } from '../support/e2e.js';
import { waitFor } from '../support/wait.js';
import { WorkerFleet } from '../support/worker-fleet.js';
const DEAD_MS = 1500;

describe('process: heartbeats and unreachable hosts', () => {
  let t: TestApp;
  const fleet = new WorkerFleet(() => t, { HOST_DEAD_MS: String(DEAD_MS) });

  async function host(hostId: string) {
    const res = await t.as('viewer').get(`/v1/hosts/${hostId}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  }

  async function heardFrom(hostId: string, pid: number): Promise<void> {
    await waitFor(
      async () => {
        const raw = (await t.runtime.hub.heartbeats())[hostId];
        return raw !== undefined && (JSON.parse(raw) as { by: string }).by.endsWith(`/${pid}`);
      },
      // A worker process loads the whole app before its first beat: slow on a busy machine.
      { what: `a heartbeat of ${hostId} from worker ${pid}`, timeoutMs: 90000 },
    );
  }

  before(async () => {
    t = await startTestApp({ env: { ROLE: 'api', HOST_DEAD_MS: String(DEAD_MS) } });
  });
  after(async () => {
    fleet.killAll();
    await t?.close();
  });

  test('kill -9 a worker: its host becomes unreachable with the evidence, then active when a worker is back', async () => {
    // The bigger host would be placement's first choice while it is reachable.
    const big = await registerHost(t, { name: 'hb-big', capacity: { vcpus: 64, memoryMiB: 65536 } });
    const small = await registerHost(t, { name: 'hb-small', capacity: { vcpus: 8, memoryMiB: 8192 } });
    const w1 = fleet.start(big);
    const w2 = fleet.start(small);
    await heardFrom(big, w1.pid!);
    await heardFrom(small, w2.pid!);
    assert.equal((await host(big)).state, 'active');
    assert.equal((await host(big)).unreachable, null);

    w1.kill('SIGKILL');
    const dead = await waitFor(
      async () => {
        const h = await host(big);
        return h.state === 'unreachable' ? h : undefined;
      },
      { what: `${big} to read unreachable`, timeoutMs: 20000 },
    );
    assert.match(dead.unreachable.lastHeartbeatBy, new RegExp(`/${w1.pid}$`));
    assert.ok(!Number.isNaN(Date.parse(dead.unreachable.lastHeartbeatAt)));
    assert.ok(!Number.isNaN(Date.parse(dead.unreachable.since)));
    assert.ok(dead.unreachable.silentMs > DEAD_MS, `silent ${dead.unreachable.silentMs} ms`);
    assert.match(dead.unreachable.observedBy, new RegExp(`/${process.pid}$`), 'this API process noticed');
    const marks = (await storeEvents(t)).filter((e) => e.type === 'HostUnreachable');
    assert.equal(marks.length, 1, 'recorded once, on the silent host only');
    assert.equal(marks[0]!.streamId, `host-${big}`);
    assert.match(marks[0]!.metadata.principal, /^system:heartbeat-watch@/);

    // Placement skips it: the VM lands on the small (reachable) host.
    const { vmId, operation: op } = await createVm(t, {});
    assert.equal(op.status, 'succeeded', JSON.stringify(op));
    const vm = await t.as('viewer').get(`/v1/vms/${vmId}`);
    assert.equal(vm.body.hostId, small);
    assert.equal((await host(small)).state, 'active', 'the host with a live worker stays active');

    const w3 = fleet.start(big);
    await heardFrom(big, w3.pid!);
    await waitFor(async () => (await host(big)).state === 'active', {
      what: `${big} active again`,
      timeoutMs: 20000,
    });
    assert.equal((await host(big)).unreachable, null);
    const back = (await storeEvents(t)).filter((e) => e.type === 'HostReachable');
    assert.equal(back.length, 1);
    assert.match(String(back[0]!.data.heartbeatBy), new RegExp(`/${w3.pid}$`));
  });
});
