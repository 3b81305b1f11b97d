import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { given } from '../../../test/support/decider-spec.js';
import type { VolumeCommand } from './volume.commands.js';
import { volumeDecider } from './volume.decider.js';
import type { VolumeEvent } from './volume.events.js';

const V = 'vol-1';
const requested: VolumeEvent = {
  type: 'VolumeCreateRequested',
  data: { volumeId: V, operationId: 'op-c', name: 'data', sizeGiB: 10, hostId: 'host-a', project: 'default' },
};
const created: VolumeEvent = { type: 'VolumeCreated', data: { operationId: 'op-c' } };
const attached: VolumeEvent = { type: 'VolumeAttached', data: { vmId: 'vm-1', operationId: 'op-a' } };
const available = [requested, created];
const volume = (history: VolumeEvent[]) => given(volumeDecider, history);
const claim = (vmId = 'vm-2', vmHostId: string | null = 'host-a'): VolumeCommand => ({
  type: 'ClaimVolume',
  vmId,
  operationId: 'op-x',
  vmHostId,
});

describe('volume decider: create and the host step', () => {
  test('create → requested on its host; the host step succeeds → available; again → nothing', () => {
    const s = volume([])
      .when({
        type: 'CreateVolume',
        volumeId: V,
        operationId: 'op-c',
        name: 'data',
        sizeGiB: 10,
        hostId: 'host-a',
        project: 'default',
      })
      .then([requested]);
    assert.equal(s.status, 'creating');
    volume([requested])
      .when({ type: 'RecordVolumeStepSucceeded', operationId: 'op-c', step: 'createVolume' })
      .then([created]);
    volume(available)
      .when({ type: 'RecordVolumeStepSucceeded', operationId: 'op-c', step: 'createVolume' })
      .thenNothing();
  });

  test('a failed create leaves the volume failed (deletable)', () => {
    const s = volume([requested])
      .when({ type: 'RecordVolumeStepFailed', operationId: 'op-c', step: 'createVolume', reason: 'disk full' })
      .then([
        { type: 'VolumeOperationFailed', data: { operationId: 'op-c', kind: 'createVolume', reason: 'disk full' } },
      ]);
    assert.equal(s.status, 'failed');
    volume([
      ...[requested],
      { type: 'VolumeOperationFailed', data: { operationId: 'op-c', kind: 'createVolume', reason: 'x' } },
    ])
      .when({ type: 'DeleteVolume', operationId: 'op-d' })
      .then([{ type: 'VolumeDeleteRequested', data: { operationId: 'op-d', project: 'default' } }]);
  });
});

describe('volume decider: resize', () => {
  test('grow → requested with the new size; the same size → nothing; shrink → unsupported (422)', () => {
    volume(available)
      .when({ type: 'ResizeVolume', operationId: 'op-r', sizeGiB: 20 })
      .then([
        { type: 'VolumeResizeRequested', data: { operationId: 'op-r', fromGiB: 10, sizeGiB: 20, project: 'default' } },
      ]);
    volume(available).when({ type: 'ResizeVolume', operationId: 'op-r', sizeGiB: 10 }).thenNothing();
    volume(available)
      .when({ type: 'ResizeVolume', operationId: 'op-r', sizeGiB: 5 })
      .thenThrows('unsupported', /only grows .*has 10 GiB, asked 5/);
  });

  test('attached: allowed, naming the VM (the host grows it live); busy → conflict', () => {
    volume([...available, attached])
      .when({ type: 'ResizeVolume', operationId: 'op-r', sizeGiB: 20 })
      .then([
        {
          type: 'VolumeResizeRequested',
          data: { operationId: 'op-r', fromGiB: 10, sizeGiB: 20, project: 'default', vmId: 'vm-1' },
        },
      ]);
    volume([requested])
      .when({ type: 'ResizeVolume', operationId: 'op-r', sizeGiB: 20 })
      .thenThrows('conflict', /busy with operation op-c/);
  });
});

describe('volume decider: claims (attach) and delete', () => {
  test('an available volume is claimed by a VM on its host', () => {
    const s = volume(available)
      .when(claim())
      .then([{ type: 'VolumeAttached', data: { vmId: 'vm-2', operationId: 'op-x' } }]);
    assert.equal(s.attachedTo, 'vm-2');
  });

  test('a VM on another host → conflict naming both hosts', () => {
    const err = volume(available)
      .when(claim('vm-2', 'host-b'))
      .thenThrows('conflict', /on host host-a and VM vm-2 on host host-b/);
    assert.deepEqual(err.details, { volumeHostId: 'host-a', vmHostId: 'host-b' });
  });

  test('already attached (to the same VM or another) → conflict; still creating → conflict', () => {
    volume([...available, attached])
      .when(claim('vm-1'))
      .thenThrows('conflict', /already attached to VM vm-1/);
    volume([...available, attached])
      .when(claim('vm-2'))
      .thenThrows('conflict', /attached to VM vm-1/);
    volume([requested])
      .when(claim())
      .thenThrows('conflict', /creating|busy/);
  });

  test('delete refused while attached; released → delete requested; deleted → delete again is nothing', () => {
    volume([...available, attached])
      .when({ type: 'DeleteVolume', operationId: 'op-d' })
      .thenThrows('conflict', /attached to VM vm-1; detach it first/);
    const released: VolumeEvent = {
      type: 'VolumeDetached',
      data: { vmId: 'vm-1', operationId: 'op-dt', reason: 'detached' },
    };
    volume([...available, attached])
      .when({ type: 'ReleaseVolume', vmId: 'vm-1', operationId: 'op-dt', reason: 'detached' })
      .then([released]);
    volume([...available, attached, released])
      .when({ type: 'ReleaseVolume', vmId: 'vm-1', operationId: 'op-dt', reason: 'x' })
      .thenNothing();
    const deleting: VolumeEvent = { type: 'VolumeDeleteRequested', data: { operationId: 'op-d', project: 'default' } };
    volume([...available, attached, released])
      .when({ type: 'DeleteVolume', operationId: 'op-d' })
      .then([deleting]);
    const gone = [...available, deleting, { type: 'VolumeDeleted', data: { operationId: 'op-d' } } as VolumeEvent];
    volume(gone).when({ type: 'DeleteVolume', operationId: 'op-e' }).thenNothing();
    volume(gone)
      .when(claim())
      .thenThrows('not_found', /was deleted/);
    volume([])
      .when({ type: 'DeleteVolume', operationId: 'op-e' })
      .thenThrows('not_found', /volume not found/);
  });

  test('its VM migrated: the volume moves to the target host (once)', () => {
    const moved = volume([...available, attached])
      .when({ type: 'MoveVolume', vmId: 'vm-1', operationId: 'op-m', hostId: 'host-b' })
      .then([
        { type: 'VolumeMoved', data: { vmId: 'vm-1', operationId: 'op-m', fromHostId: 'host-a', toHostId: 'host-b' } },
      ]);
    assert.equal(moved.hostId, 'host-b');
    volume([...available, attached])
      .when({ type: 'MoveVolume', vmId: 'vm-9', operationId: 'op-m', hostId: 'host-b' })
      .thenNothing();
  });
});
