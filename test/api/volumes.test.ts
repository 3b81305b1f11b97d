/**
 * Volumes over HTTP on simulated hosts (the qemu test drives real QEMU): every refusal the
 * control plane can know up front is a clear 4xx naming the field or the hosts, with nothing
 * recorded; placement counts volumes and VM disks against a host's diskGiB.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { assertError, createVmOp, storeEvents, waitUntil } from '../support/e2e.js';
import { tempDir } from '../support/env.js';
import { asUser, writeAuthFile } from '../support/users.js';
import { attachOk, createVolume, volumeOp } from '../support/volumes.js';

describe('e2e: volumes (simulated hosts)', () => {
  let t: TestApp;
  const dir = tempDir('vl-volumes-');
  const small = 'vol-small';
  const big = 'vol-big';

  before(async () => {
    const authFile = writeAuthFile(dir.dir, [{ name: 'tenant', role: 'operator', projects: ['other'] }]);
    t = await startTestApp({ env: { AUTH_FILE: authFile } });
    for (const [id, diskGiB] of [
      [small, 5],
      [big, 100],
    ] as const) {
      const res = await t.as('admin').post('/v1/hosts', {
        id,
        name: id,
        driver: 'simulated',
        uri: 'simulated://?latencyMs=0',
        capacity: { vcpus: 16, memoryMiB: 16384, diskGiB },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
  });
  after(async () => {
    await t?.close();
    dir.cleanup();
  });

  const count = async () => (await storeEvents(t)).length;

  /** A refusal: the status, the field or words it must name, and no event appended. */
  async function refused(
    send: () => Promise<{ status: number; body: Record<string, unknown> }>,
    status: number,
    what: RegExp,
  ) {
    const before = await count();
    const res = await send();
    assertError(res as never, status);
    assert.match(String(res.body.message), what);
    assert.equal(await count(), before, 'a refused request appended an event');
  }

  test('bad create bodies: 400 naming the field; an unknown host: 404; nothing recorded', async () => {
    const op = t.as('operator');
    await refused(() => op.post('/v1/volumes', { sizeGiB: 1 }), 400, /name/);
    await refused(() => op.post('/v1/volumes', { name: '../etc', sizeGiB: 1 }), 400, /name must be/);
    await refused(() => op.post('/v1/volumes', { name: 'a', sizeGiB: 0 }), 400, /sizeGiB/);
    await refused(() => op.post('/v1/volumes', { name: 'a', sizeGiB: 1.5 }), 400, /sizeGiB/);
    await refused(
      () => op.post('/v1/volumes', { name: 'a', sizeGiB: 1, hostId: 'nope' }),
      404,
      /hostId: host nope not found/,
    );
  });

  test('placement counts disk: the host with room is chosen; none with room → 409 naming every host and why', async () => {
    const id = await createVolume(t, { name: 'fits-big', sizeGiB: 20 });
    const v = await t.as('viewer').get(`/v1/volumes/${id}`);
    assert.equal(v.body.hostId, big, 'only the big host has 20 GiB free');
    assert.equal((await t.as('viewer').get(`/v1/hosts/${big}`)).body.allocated.diskGiB, 20);
    await refused(
      () => t.as('operator').post('/v1/volumes', { name: 'too-big', sizeGiB: 500 }),
      409,
      new RegExp(
        `no host can take a 500 GiB volume: .*${small}.*5 GiB of disk free.*${big}.*80 GiB of disk free|no host can take a 500 GiB volume: .*${big}.*${small}`,
      ),
    );
    await refused(
      () => t.as('operator').post('/v1/volumes', { name: 'pinned', sizeGiB: 6, hostId: small }),
      409,
      /host vol-small \(vol-small\) has 5 GiB of disk free; the volume needs 6 GiB/,
    );
    // A VM's disk counts too: 10 GiB fits no longer on the small host.
    const vm = await t
      .as('operator')
      .post('/v1/vms', { name: 'fat', vcpus: 1, memoryMiB: 64, diskGiB: 10, hostId: small });
    assert.equal(vm.status, 202);
    const failed = await waitOperation(t, vm.body.operationId as string);
    assert.equal(failed.status, 'failed');
    assert.match(String(failed.error), /5 GiB of disk free; the VM needs 10 GiB/);
  });

  test('resize: grow works; shrink 422 and the same size 409 name sizeGiB; unknown and foreign ids 404', async () => {
    const id = await createVolume(t, { name: 'grow', sizeGiB: 2, hostId: big });
    const grown = await volumeOp(t, 'patch', `/v1/volumes/${id}`, { sizeGiB: 3 });
    assert.equal(grown.operation.status, 'succeeded', JSON.stringify(grown.operation));
    assert.equal(grown.operation.kind, 'resizeVolume');
    assert.equal((await t.as('viewer').get(`/v1/volumes/${id}`)).body.sizeGiB, 3);
    await refused(
      () => t.as('operator').patch(`/v1/volumes/${id}`, { sizeGiB: 1 }),
      422,
      /sizeGiB: a volume only grows/,
    );
    await refused(
      () => t.as('operator').patch(`/v1/volumes/${id}`, { sizeGiB: 3 }),
      409,
      /sizeGiB: .*already has 3 GiB/,
    );
    await refused(() => t.as('operator').patch(`/v1/volumes/${id}`, { sizeGiB: 'x' }), 400, /sizeGiB/);
    const missing = '6f1c3a52-0d7e-4d6b-9a43-1b2c3d4e5f60';
    await refused(() => t.as('operator').patch(`/v1/volumes/${missing}`, { sizeGiB: 9 }), 404, /not found/);
    await refused(() => t.as('operator').delete('/v1/volumes/not-a-uuid'), 404, /not found/);
    await refused(() => asUser(t, 'tenant').delete(`/v1/volumes/${id}`), 404, new RegExp(`volume ${id} not found`));
    assert.equal((await asUser(t, 'tenant').get(`/v1/volumes/${id}`)).status, 404);
    const list = await asUser(t, 'tenant').get('/v1/volumes');
    assert.deepEqual(list.body.items, [], "a tenant lists only its project's volumes");
  });

  test('attach refusals: another host (naming both), already attached, delete while attached, detach of one not attached; a resize while attached', async () => {
    const vmId = (await createVmOp(t, { name: 'holder', hostId: big })).accepted.vmId;
    const onSmall = await createVolume(t, { name: 'on-small', sizeGiB: 1, hostId: small });
    await refused(
      () => t.as('operator').post(`/v1/vms/${vmId}/volumes`, { volumeId: onSmall }),
      409,
      new RegExp(`on host ${small} and VM ${vmId} on host ${big}`),
    );
    const id = await createVolume(t, { name: 'shared', sizeGiB: 1, hostId: big });
    await attachOk(t, vmId, id);
    await refused(() => t.as('operator').post(`/v1/vms/${vmId}/volumes`, { volumeId: id }), 409, /already attached/);
    const other = (await createVmOp(t, { name: 'thief', hostId: big })).accepted.vmId;
    await refused(
      () => t.as('operator').post(`/v1/vms/${other}/volumes`, { volumeId: id }),
      409,
      new RegExp(`attached to VM ${vmId}`),
    );
    await refused(() => t.as('operator').delete(`/v1/volumes/${id}`), 409, /detach it first/);
    await refused(() => t.as('operator').delete(`/v1/vms/${other}/volumes/${id}`), 404, /not attached/);
    await refused(() => t.as('operator').post(`/v1/vms/${vmId}/volumes`, {}), 400, /volumeId/);
    await refused(
      () => t.as('operator').post(`/v1/vms/${vmId}/volumes`, { volumeId: '6f1c3a52-0d7e-4d6b-9a43-1b2c3d4e5f60' }),
      404,
      /volume .* not found/,
    );
    // Attached, it still grows (the host does it through the VM), and the VM's view follows.
    const grown = await volumeOp(t, 'patch', `/v1/volumes/${id}`, { sizeGiB: 2 });
    assert.equal(grown.operation.status, 'succeeded', JSON.stringify(grown.operation));
    await waitUntil('the VM shows the new size', async () => {
      const vm = await t.as('viewer').get(`/v1/vms/${vmId}`);
      return JSON.stringify(vm.body.volumes) === JSON.stringify([{ volumeId: id, name: 'shared', sizeGiB: 2 }])
        ? true
        : undefined;
    });
  });

  test('a VM created with volumes lands on their host and holds them; its delete releases them', async () => {
    const id = await createVolume(t, { name: 'boot-data', sizeGiB: 1, hostId: big });
    await refused(
      () =>
        t
          .as('operator')
          .post('/v1/vms', { name: 'x', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId: small, volumes: [id] }),
      409,
      new RegExp(`on host ${big} and VM .* on host ${small}`),
    );
    const created = await createVmOp(t, { name: 'with-vol', volumes: [id] });
    assert.equal(created.operation.status, 'succeeded', JSON.stringify(created.operation));
    const vm = await t.as('viewer').get(`/v1/vms/${created.accepted.vmId}`);
    assert.equal(vm.body.hostId, big);
    assert.deepEqual(vm.body.volumes, [{ volumeId: id, name: 'boot-data', sizeGiB: 1 }]);
    assert.equal((await t.as('viewer').get(`/v1/volumes/${id}`)).body.attachedTo, created.accepted.vmId);
    const del = await t.as('operator').delete(`/v1/vms/${created.accepted.vmId}`);
    assert.equal((await waitOperation(t, del.body.operationId as string)).status, 'succeeded');
    // The release is a saga step after the delete's last event.
    await waitUntil('the volume released', async () => {
      const v = await t.as('viewer').get(`/v1/volumes/${id}`);
      return v.body.attachedTo === null ? true : undefined;
    });
    const gone = await volumeOp(t, 'delete', `/v1/volumes/${id}`);
    assert.equal(gone.operation.status, 'succeeded');
  });
});
