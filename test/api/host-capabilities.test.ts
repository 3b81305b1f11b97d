/**
 * A host's capabilities are recorded in its HostRegistered event when it is
 * registered, and the VM path reads them from the host; a host registered
 * before they were recorded is still judged by what its driver declares.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { hostStream } from '../../src/domain/streams.js';
import { createVm, registerHost, startTestApp, type TestApp } from '../support/app.js';
import { waitUntil } from '../support/e2e.js';

describe('api: capabilities recorded at registration', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('HostRegistered carries what the driver declared; the host view shows the same', async () => {
    const hostId = await registerHost(t, { name: 'caps-1', uri: 'simulated://?pause=false' });
    const events = await t.runtime.store!.readStream(hostStream(hostId));
    const registered = events.find((e) => e.type === 'HostRegistered')!;
    const view = await t.as('viewer').get(`/v1/hosts/${hostId}`);
    assert.equal(view.status, 200);
    assert.equal(view.body.capabilities.pause, false);
    assert.deepEqual(registered.data.capabilities, view.body.capabilities);
  });

  test('a host registered before capabilities were recorded: the driver registry answers, 422 still up front', async () => {
    const hostId = `old-${randomUUID().slice(0, 8)}`;
    // The event as older versions wrote it: no capabilities field.
    await t.runtime.store!.append(
      hostStream(hostId),
      [
        {
          id: randomUUID(),
          type: 'HostRegistered',
          data: {
            hostId,
            name: 'caps-old',
            driver: 'simulated',
            uri: 'simulated://?pause=false',
            capacity: { vcpus: 8, memoryMiB: 8192 },
          },
          metadata: {
            principal: 'admin#legacy',
            correlationId: hostId,
            causationId: hostId,
            at: new Date().toISOString(),
            schema: 1,
          },
        },
      ],
      'no_stream',
    );
    const view = await waitUntil('the old host in the read model', async () => {
      const res = await t.as('viewer').get(`/v1/hosts/${hostId}`);
      return res.status === 200 ? res : undefined;
    });
    assert.equal(view.body.capabilities.pause, false);
    assert.equal(view.body.capabilities.reboot, true);
    const { vmId, operation } = await createVm(t, { hostId });
    assert.equal(operation.status, 'succeeded');
    const paused = await t.as('operator').post(`/v1/vms/${vmId}/pause`);
    assert.equal(paused.status, 422, JSON.stringify(paused.body));
    const rebooted = await t.as('operator').post(`/v1/vms/${vmId}/reboot`);
    assert.equal(rebooted.status, 202, JSON.stringify(rebooted.body));
  });
});
