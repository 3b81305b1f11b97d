import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initialVmState, type VmState } from '../domain/vm/vm.state.js';
import type { VmEvent } from '../domain/vm/vm.events.js';
import { networkSaga } from './network.saga.js';

const nic = (networkId: string, ip: string) => ({
  networkId,
  mac: '52:54:00:00:00:01',
  ip,
  prefixLength: 24,
  gateway: '10.0.0.1',
  cidr: '10.0.0.0/24',
  nat: false,
  vni: 1000,
});
const vm = (nics = [nic('n1', '10.0.0.2'), nic('n1', '10.0.0.3'), nic('n2', '10.1.0.2')]): VmState => ({
  ...initialVmState(),
  id: 'vm-1',
  spec: { name: 'a', vcpus: 1, memoryMiB: 64, diskGiB: 1, nics },
});
const failed = (step: 'placement' | 'define', kind: 'create' | 'start' = 'create'): VmEvent => ({
  type: 'VmOperationFailed',
  data: { operationId: 'op', kind, step, reason: 'x', state: 'failed' },
});

describe('network saga', () => {
  test('a deleted VM releases its addresses, once per network', () => {
    const s = vm();
    assert.deepEqual(networkSaga({ type: 'VmDeleted', data: { operationId: 'op' } }, s, s), [
      { type: 'releaseAddresses', vmId: 'vm-1', networkIds: ['n1', 'n2'] },
    ]);
  });

  test('a create that failed placement releases; one that failed on its host, or another operation, does not', () => {
    const s = vm();
    assert.equal(networkSaga(failed('placement'), s, s).length, 1);
    assert.deepEqual(networkSaga(failed('define'), s, s), []);
    assert.deepEqual(networkSaga(failed('placement', 'start'), s, s), []);
  });

  test('a VM without NICs: nothing', () => {
    const s = vm([]);
    assert.deepEqual(networkSaga({ type: 'VmDeleted', data: { operationId: 'op' } }, s, s), []);
  });
});
