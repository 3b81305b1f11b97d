import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { busyMessage, H, NEW, vm } from '../../../test/support/vm-histories.js';
import type { VmEvent } from './vm.events.js';

const VOL = { volumeId: 'vol-1', name: 'data', sizeGiB: 10 };
const attachRequested = (live: boolean): VmEvent => ({
  type: 'VmVolumeAttachRequested',
  data: { operationId: NEW, volume: VOL, live },
});
const attachedEv: VmEvent = { type: 'VmVolumeAttached', data: { operationId: NEW, volume: VOL } };
const attach = (hotplug = true) => ({ type: 'AttachVolume' as const, operationId: NEW, volume: VOL, hotplug });
const detach = (hotplug = true) => ({ type: 'DetachVolume' as const, operationId: 'op-d', volumeId: 'vol-1', hotplug });

describe('VM decider: volumes', () => {
  test('attach to a running VM is a live attach; the host step adds the volume to the spec', () => {
    vm(H.running)
      .when(attach())
      .then([attachRequested(true)]);
    const s = vm([...H.running, attachRequested(true)])
      .when({ type: 'RecordStepSucceeded', operationId: NEW, step: 'attachVolume', output: {}, at: 'x' })
      .then([attachedEv]);
    assert.deepEqual(s.spec?.volumes, [VOL]);
    assert.equal(s.pending, null);
    assert.equal(s.state, 'running');
  });

  test('attach to a stopped VM is a cold attach, whatever the driver', () => {
    vm(H.stopped)
      .when(attach(false))
      .then([attachRequested(false)]);
  });

  test('a running VM on a driver without hot-plug (containers) → conflict saying stop it first', () => {
    vm(H.running)
      .when(attach(false))
      .thenThrows('conflict', /cannot attach a volume while the VM runs .*stop VM vm-1 first/);
  });

  test('already attached → conflict; busy → conflict naming the operation; paused → conflict', () => {
    vm([...H.running, attachRequested(true), attachedEv])
      .when(attach())
      .thenThrows('conflict', /already attached/);
    vm(H.runningBusy).when(attach()).thenThrows('conflict', busyMessage('op-busy', 'stop'));
    vm(H.paused)
      .when(attach())
      .thenThrows('conflict', /VM that is paused/);
    vm(H.deleted).when(attach()).thenThrows('not_found');
  });

  test('detach: requested, then removed from the spec; not attached → not found', () => {
    const history = [...H.running, attachRequested(true), attachedEv];
    vm(history)
      .when(detach())
      .then([{ type: 'VmVolumeDetachRequested', data: { operationId: 'op-d', volumeId: 'vol-1', live: true } }]);
    const s = vm([
      ...history,
      { type: 'VmVolumeDetachRequested', data: { operationId: 'op-d', volumeId: 'vol-1', live: true } },
    ])
      .when({ type: 'RecordStepSucceeded', operationId: 'op-d', step: 'detachVolume', output: {}, at: 'x' })
      .then([{ type: 'VmVolumeDetached', data: { operationId: 'op-d', volumeId: 'vol-1' } }]);
    assert.deepEqual(s.spec?.volumes, []);
    vm(H.running)
      .when(detach())
      .thenThrows('not_found', /not attached/);
  });

  test('an attached volume that grew: the VM records the new size; one it does not hold → nothing', () => {
    const history = [...H.running, attachRequested(true), attachedEv];
    const s = vm(history)
      .when({ type: 'NoteVolumeSize', volumeId: 'vol-1', sizeGiB: 20 })
      .then([{ type: 'VmVolumeResized', data: { volumeId: 'vol-1', sizeGiB: 20 } }]);
    assert.deepEqual(s.spec?.volumes, [{ ...VOL, sizeGiB: 20 }]);
    vm(history).when({ type: 'NoteVolumeSize', volumeId: 'vol-9', sizeGiB: 20 }).thenNothing();
  });

  test('a failed attach leaves the VM as it was, without the volume', () => {
    const s = vm([...H.running, attachRequested(true)])
      .when({ type: 'RecordStepFailed', operationId: NEW, step: 'attachVolume', reason: 'no file' })
      .then([
        {
          type: 'VmOperationFailed',
          data: { operationId: NEW, kind: 'attachVolume', step: 'attachVolume', reason: 'no file', state: 'running' },
        },
      ]);
    assert.equal(s.spec?.volumes, undefined);
  });
});
