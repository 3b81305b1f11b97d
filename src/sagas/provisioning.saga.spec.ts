import { describe, it } from 'node:test';
import type { VmEvent } from '../domain/vm/vm.events.js';
import { createdOn, sagaSpec, SPEC, VM_ID } from '../../test/support/saga-spec.js';
import { defineJobId, provisioningSaga } from './provisioning.saga.js';

const saga = sagaSpec(provisioningSaga);

const createRequested = (start: boolean, requestedHostId: string | null = null): VmEvent => ({
  type: 'VmCreateRequested',
  data: { vmId: VM_ID, operationId: 'op-c', spec: SPEC, requestedHostId, start },
});

describe('provisioning saga', () => {
  it('a create asks placement for room for the spec, passing on the host the user asked for, and for the define job once placed', () => {
    saga
      .given([])
      .when(createRequested(true, 'host-b'))
      .then([
        {
          type: 'place',
          vmId: VM_ID,
          operationId: 'op-c',
          requestedHostId: 'host-b',
          vcpus: 2,
          memoryMiB: 1024,
          diskGiB: 8,
          define: { args: { thenStart: true }, jobId: defineJobId('op-c') },
        },
      ]);
    saga
      .given([])
      .when(createRequested(false))
      .then([
        {
          type: 'place',
          vmId: VM_ID,
          operationId: 'op-c',
          requestedHostId: null,
          vcpus: 2,
          memoryMiB: 1024,
          diskGiB: 8,
          define: { args: {}, jobId: defineJobId('op-c') },
        },
      ]);
  });

  it('once placed, the VM is defined on the chosen host, and started by the same job when the create asked to run it', () => {
    const placed: VmEvent = { type: 'VmPlaced', data: { operationId: 'op-c', hostId: 'host-a' } };
    saga
      .given([createRequested(true)])
      .when(placed)
      .then([
        {
          type: 'enqueue',
          hostId: 'host-a',
          vmId: VM_ID,
          operationId: 'op-c',
          step: 'define',
          args: { thenStart: true },
          // The id the placement queued it under already: BullMQ then ignores this one.
          jobId: defineJobId('op-c'),
        },
      ]);
    saga
      .given([createRequested(false)])
      .when(placed)
      .then([
        {
          type: 'enqueue',
          hostId: 'host-a',
          vmId: VM_ID,
          operationId: 'op-c',
          step: 'define',
          args: {},
          jobId: defineJobId('op-c'),
        },
      ]);
  });

  it('once defined, a start job follows only when the define job does not start the VM itself', () => {
    const placed = (start: boolean): VmEvent[] => [
      createRequested(start),
      { type: 'VmPlaced', data: { operationId: 'op-c', hostId: 'host-a' } },
    ];
    // A define job from before define-then-start (or one run by an older worker) reports no startFollows.
    const defined: VmEvent = { type: 'VmDefined', data: { operationId: 'op-c', hostId: 'host-a' } };
    saga
      .given(placed(true))
      .when(defined)
      .then([{ type: 'enqueue', hostId: 'host-a', vmId: VM_ID, operationId: 'op-c', step: 'start', args: {} }]);
    saga.given(placed(false)).when(defined).thenNothing();
    saga
      .given(placed(true))
      .when({ type: 'VmDefined', data: { operationId: 'op-c', hostId: 'host-a', startFollows: true } })
      .thenNothing();
  });

  it('a delete destroys the VM on its host, then gives the host its capacity back', () => {
    saga
      .given(createdOn('host-a'))
      .when({ type: 'VmDeleteRequested', data: { operationId: 'op-d' } })
      .then([{ type: 'enqueue', hostId: 'host-a', vmId: VM_ID, operationId: 'op-d', step: 'destroy', args: {} }]);
    saga
      .given([...createdOn('host-a'), { type: 'VmDeleteRequested', data: { operationId: 'op-d' } }])
      .when({ type: 'VmDeleted', data: { operationId: 'op-d' } })
      .then([{ type: 'release', hostId: 'host-a', vmId: VM_ID, operationId: 'op-d' }]);
  });

  it('a VM that was never placed has nothing to destroy nor to release', () => {
    saga
      .given([createRequested(true)])
      .when({ type: 'VmDeleteRequested', data: { operationId: 'op-d' } })
      .thenNothing();
    saga
      .given([createRequested(true), { type: 'VmDeleteRequested', data: { operationId: 'op-d' } }])
      .when({ type: 'VmDeleted', data: { operationId: 'op-d' } })
      .thenNothing();
  });

  it('a create that failed after placement gives its reservation back; the VM stays, failed', () => {
    saga
      .given([createRequested(true), { type: 'VmPlaced', data: { operationId: 'op-c', hostId: 'host-a' } }])
      .when({
        type: 'VmOperationFailed',
        data: { operationId: 'op-c', kind: 'create', step: 'define', reason: 'disk full', state: 'failed' },
      })
      .then([{ type: 'release', hostId: 'host-a', vmId: VM_ID, operationId: 'op-c' }]);
  });

  it('a cancelled create after placement: what the host made is destroyed, then the reservation released', () => {
    saga
      .given(createdOn('host-a'))
      .when({
        type: 'VmOperationFailed',
        data: {
          operationId: 'op-c',
          kind: 'create',
          step: 'start',
          reason: 'cancelled by alice',
          state: 'failed',
          cancelled: { by: 'alice' },
        },
      })
      .then([
        { type: 'compensate', hostId: 'host-a', vmId: VM_ID, operationId: 'op-c', step: 'destroy', args: {} },
        { type: 'release', hostId: 'host-a', vmId: VM_ID, operationId: 'op-c' },
      ]);
  });

  it('a create that failed in placement holds nothing; another failed operation is not a create', () => {
    saga
      .given([createRequested(true)])
      .when({
        type: 'VmOperationFailed',
        data: { operationId: 'op-c', kind: 'create', step: 'placement', reason: 'no host', state: 'failed' },
      })
      .thenNothing();
    saga
      .given(createdOn('host-a'))
      .when({
        type: 'VmOperationFailed',
        data: { operationId: 'op-s', kind: 'stop', step: 'stop', reason: 'timeout', state: 'running' },
      })
      .thenNothing();
  });
});
