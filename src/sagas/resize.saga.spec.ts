import { describe, it } from 'node:test';
import { createdOn, sagaSpec, VM_ID } from '../../test/support/saga-spec.js';
import type { VmEvent } from '../domain/vm/vm.events.js';
import { resizeSaga } from './resize.saga.js';

const saga = sagaSpec(resizeSaga);
const FROM = { vcpus: 2, memoryMiB: 1024, diskGiB: 8 };
const TO = { vcpus: 1, memoryMiB: 2048, diskGiB: 10 };
const started: VmEvent = { type: 'VmResizeStarted', data: { operationId: 'op-r', from: FROM, to: TO, live: true } };

describe('resize saga (live)', () => {
  it('a live resize puts one resizeLive job with the new size on the VM host', () => {
    saga
      .given(createdOn('host-a'))
      .when(started)
      .then([
        {
          type: 'enqueue',
          hostId: 'host-a',
          vmId: VM_ID,
          operationId: 'op-r',
          step: 'resizeLive',
          args: { to: TO },
        },
      ]);
  });

  it('applied: the host reservation becomes the new size', () => {
    saga
      .given([...createdOn('host-a'), started])
      .when({ type: 'VmResized', data: { operationId: 'op-r', ...TO, live: true } })
      .then([
        { type: 'resizeReservation', hostId: 'host-a', vmId: VM_ID, operationId: 'op-r', vcpus: 1, memoryMiB: 2048 },
      ]);
  });

  it('failed: the host reservation goes back to the old size', () => {
    saga
      .given([...createdOn('host-a'), started])
      .when({
        type: 'VmOperationFailed',
        data: { operationId: 'op-r', kind: 'resize', step: 'resizeLive', reason: 'EBUSY', state: 'running' },
      })
      .then([
        { type: 'resizeReservation', hostId: 'host-a', vmId: VM_ID, operationId: 'op-r', vcpus: 2, memoryMiB: 1024 },
      ]);
  });

  it('a cold resize and the failure of another kind of operation ask nothing of the host', () => {
    saga
      .given(createdOn('host-a', { running: false }))
      .when({ type: 'VmResized', data: { operationId: 'op-c', vcpus: 4, memoryMiB: 1024, diskGiB: 8 } })
      .thenNothing();
    saga
      .given([...createdOn('host-a'), { type: 'VmRebootRequested', data: { operationId: 'op-b' } }])
      .when({
        type: 'VmOperationFailed',
        data: { operationId: 'op-b', kind: 'reboot', step: 'reboot', reason: 'x', state: 'running' },
      })
      .thenNothing();
  });
});
