import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { H, NEW, deletedEv, startRequested, started, stateOf } from '../../../test/support/vm-histories.js';
import { toVmView } from '../../modules/vms/vm.view.js';
import type { VmEvent } from './vm.events.js';

const crashed: VmEvent = { type: 'VmCrashed', data: { reason: 'qemu exited', previousState: 'running' } };
const view = (history: VmEvent[]) => toVmView(stateOf(history), 1n, 'c', 'u');

describe('VM state: crashed', () => {
  test('a crash reads crashed with the reason (decisions still see stopped)', () => {
    const s = stateOf([...H.running, crashed]);
    assert.equal(s.state, 'stopped');
    assert.deepEqual(view([...H.running, crashed]).state, 'crashed');
    assert.deepEqual(view([...H.running, crashed]).crash, { reason: 'qemu exited', previousState: 'running' });
  });

  test('it reads crashed until started again, then the crash is history', () => {
    const starting = [...H.running, crashed, startRequested(NEW)];
    assert.equal(view(starting).state, 'crashed', 'a start asked for is not a start done');
    const back = view([...starting, started(NEW)]);
    assert.equal(back.state, 'running');
    assert.equal(back.crash, null);
  });

  test('a VM that never crashed has crash null; a deleted crashed VM is deleted', () => {
    assert.equal(view(H.running).crash, null);
    assert.equal(view(H.stopped).state, 'stopped');
    const gone = view([...H.running, crashed, deletedEv(NEW)]);
    assert.equal(gone.state, 'deleted');
    assert.equal(gone.crash, null);
  });
});
