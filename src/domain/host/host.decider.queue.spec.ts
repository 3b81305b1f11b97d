import { describe, test } from 'node:test';
import { given } from '../../../test/support/decider-spec.js';
import { hostDecider } from './host.decider.js';
import type { HostEvent, QueueJobRef } from './host.events.js';

const registered: HostEvent = {
  type: 'HostRegistered',
  data: {
    hostId: 'h1',
    name: 'rack1-a',
    driver: 'qemu',
    uri: 'qemu:///system',
    capacity: { vcpus: 8, memoryMiB: 8192 },
  },
};
const job: QueueJobRef = {
  jobId: 'j1',
  step: 'define',
  operationId: 'op-1',
  vmId: 'vm-1',
  error: 'job stalled more than allowable limit',
  attempts: 3,
};

describe('host decider: acts on failed queue jobs', () => {
  test('a retry is recorded with the job as it was and who asked', () => {
    given(hostDecider, [registered])
      .when({ type: 'RetryQueueJob', job, by: 'alice' })
      .then([{ type: 'HostJobRetried', data: { ...job, by: 'alice' } }]);
  });

  test('each retry is its own act: a second one after the first is recorded too', () => {
    given(hostDecider, [registered, { type: 'HostJobRetried', data: { ...job, by: 'alice' } }])
      .when({ type: 'RetryQueueJob', job, by: 'bob' })
      .then([{ type: 'HostJobRetried', data: { ...job, by: 'bob' } }]);
  });

  test('a discard carries the reason its operation fails with', () => {
    given(hostDecider, [registered])
      .when({ type: 'DiscardQueueJob', job, by: 'alice', reason: 'discarded by alice' })
      .then([{ type: 'HostJobDiscarded', data: { ...job, by: 'alice', reason: 'discarded by alice' } }]);
  });

  test('no host, no act', () => {
    given(hostDecider, []).when({ type: 'RetryQueueJob', job, by: 'alice' }).thenThrows('not_found');
  });
});
