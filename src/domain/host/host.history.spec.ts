/**
 * Issue #14: a host's state must not grow with every VM it ever held. After a thousand
 * VMs created and deleted, the state the command path decides against (and the hosts
 * read model shows) is the state before them: no allocation, no id, nothing to fold.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HostCommand } from './host.commands.js';
import { hostDecider } from './host.decider.js';
import type { HostEvent } from './host.events.js';
import { evolveHost, initialHostState, type HostState } from './host.state.js';
import { allocatedVmIds } from './allocations.js';

const register: HostCommand = {
  type: 'RegisterHost',
  hostId: 'host-churn',
  name: 'churn',
  driver: 'qemu',
  uri: 'qemu:///system',
  capacity: { vcpus: 64, memoryMiB: 65536, diskGiB: 1000 },
};

function run(state: HostState, cmd: HostCommand): { state: HostState; events: HostEvent[] } {
  const events = hostDecider.decide(cmd, state);
  return { state: events.reduce((s, e) => evolveHost(s, e), state), events };
}

describe('host state after many VMs created and deleted', () => {
  test('1,000 reserve/release cycles leave the state as it was: no trace of the deleted VMs', () => {
    let { state } = run(initialHostState(), register);
    const empty = JSON.stringify(state);
    let appended = 0;
    for (let i = 0; i < 1000; i++) {
      const vmId = `vm-${i}`;
      const reserved = run(state, {
        type: 'ReserveCapacity',
        vmId,
        operationId: `c-${i}`,
        vcpus: 1,
        memoryMiB: 64,
        diskGiB: 1,
      });
      assert.equal(reserved.events.length, 1, 'each VM is reserved once');
      assert.deepEqual(allocatedVmIds(reserved.state.allocations), [vmId], 'only the VM that exists is held');
      const released = run(reserved.state, { type: 'ReleaseCapacity', vmId, operationId: `d-${i}` });
      assert.equal(released.events.length, 1);
      state = released.state;
      appended += reserved.events.length + released.events.length;
    }
    assert.equal(appended, 2000);
    assert.equal(JSON.stringify(state), empty, 'byte for byte the state before the first VM');
    assert.ok(!JSON.stringify(state).includes('vm-'), 'no deleted VM id anywhere in the state');
  });

  test('with VMs that stay, the state holds exactly those: its size follows the VMs that exist, not history', () => {
    let { state } = run(initialHostState(), register);
    for (const keep of ['keep-1', 'keep-2'])
      ({ state } = run(state, { type: 'ReserveCapacity', vmId: keep, operationId: keep, vcpus: 2, memoryMiB: 128 }));
    const withTwo = JSON.stringify(state).length;
    for (let i = 0; i < 500; i++) {
      ({ state } = run(state, {
        type: 'ReserveCapacity',
        vmId: `gone-${i}`,
        operationId: `c-${i}`,
        vcpus: 1,
        memoryMiB: 64,
      }));
      ({ state } = run(state, { type: 'ReleaseCapacity', vmId: `gone-${i}`, operationId: `d-${i}` }));
    }
    assert.deepEqual(allocatedVmIds(state.allocations), ['keep-1', 'keep-2']);
    assert.equal(JSON.stringify(state).length, withTwo);
    // A release of a VM already gone is an already-done decision: no event.
    assert.deepEqual(hostDecider.decide({ type: 'ReleaseCapacity', vmId: 'gone-3', operationId: 'again' }, state), []);
  });
});
