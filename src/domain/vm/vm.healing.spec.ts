import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CREATE,
  HOST_A,
  SPEC,
  VM_ID,
  defined,
  placed,
  started,
  startRequested,
  stateOf,
  vm,
} from '../../../test/support/vm-histories.js';
import type { VmCommand } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';
import type { RestartPolicy } from './vm.types.js';
import { backoffMs, policyCovers, type HealingSettings } from './vm.healing.js';

const SETTINGS: HealingSettings = { baseMs: 1000, maxMs: 4000, maxRestarts: 3, windowMs: 600000 };
const T0 = '2030-01-01T00:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();

const created = (policy?: RestartPolicy): VmEvent => ({
  type: 'VmCreateRequested',
  data: {
    vmId: VM_ID,
    operationId: CREATE,
    spec: SPEC,
    requestedHostId: null,
    start: true,
    ...(policy ? { restartPolicy: policy } : {}),
  },
});
const running = (policy?: RestartPolicy): VmEvent[] => [created(policy), placed(), defined(), started(CREATE)];
const crashed = (observed: 'crashed' | 'stopped' | 'absent' = 'crashed'): VmEvent => ({
  type: 'VmCrashed',
  data: {
    reason: 'QEMU pid 42 died',
    previousState: 'running',
    evidence: { kind: 'observation', hostId: HOST_A, observed, detail: 'gone', jobActive: false },
  },
});
const schedule = (cause: string, causeAt = T0): VmCommand => ({
  type: 'ScheduleRestart',
  operationId: `op-${cause}`,
  causeEventId: cause,
  causePosition: '7',
  causeAt,
  settings: SETTINGS,
});
const scheduled = (cause: string, attempt: number, delayMs: number, causeAt = T0): VmEvent => ({
  type: 'VmRestartScheduled',
  data: {
    operationId: `op-${cause}`,
    causeEventId: cause,
    causePosition: '7',
    causeAt,
    policy: 'on-crash',
    attempt,
    delayMs,
    notBefore: new Date(Date.parse(causeAt) + delayMs).toISOString(),
  },
});
const restartStarted = (cause: string, attempt: number): VmEvent => ({
  type: 'VmStartRequested',
  data: { operationId: `op-${cause}`, restart: { causeEventId: cause, attempt } },
});

describe('healing: which crashes a policy answers', () => {
  test('on-crash: a process that died or vanished; always: also a guest that powered off; never: none', () => {
    assert.equal(policyCovers('on-crash', 'crashed'), true);
    assert.equal(policyCovers('on-crash', 'absent'), true);
    assert.equal(policyCovers('on-crash', 'stopped'), false);
    assert.equal(policyCovers('always', 'stopped'), true);
    assert.equal(policyCovers('never', 'crashed'), false);
  });
  test('backoff doubles from the base and is capped', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 10].map((n) => backoffMs(SETTINGS, n)),
      [1000, 2000, 4000, 4000, 4000],
    );
  });
});

describe('VM decider: ScheduleRestart', () => {
  test('a crash of an on-crash VM → VmRestartScheduled naming the crash, attempt 1 after the base delay', () => {
    const s = vm([...running('on-crash'), crashed()])
      .when(schedule('c1'))
      .then([scheduled('c1', 1, 1000)]);
    assert.equal(s.healing?.scheduled?.notBefore, at(1000));
    assert.equal(s.state, 'stopped');
  });
  test('the same cause twice, or a second cause while one is scheduled → nothing', () => {
    vm([...running('on-crash'), crashed(), scheduled('c1', 1, 1000)])
      .when(schedule('c1'))
      .thenNothing();
    vm([...running('on-crash'), crashed(), scheduled('c1', 1, 1000)])
      .when(schedule('c2'))
      .thenNothing();
  });
  test('never (or no policy, as before healing existed) → nothing', () => {
    vm([...running(), crashed()])
      .when(schedule('c1'))
      .thenNothing();
    vm([...running('never'), crashed()])
      .when(schedule('c1'))
      .thenNothing();
  });
  test('a guest poweroff: always restarts it, on-crash does not', () => {
    vm([...running('on-crash'), crashed('stopped')])
      .when(schedule('c1'))
      .thenNothing();
    vm([...running('always'), crashed('stopped')])
      .when(schedule('c1'))
      .then([{ ...scheduled('c1', 1, 1000), data: { ...scheduled('c1', 1, 1000).data, policy: 'always' } } as VmEvent]);
  });
  test('a VM that runs again, or is busy, is not scheduled', () => {
    vm([...running('on-crash'), crashed(), startRequested('op-op'), started('op-op')])
      .when(schedule('c1'))
      .thenNothing();
    vm([...running('on-crash'), crashed(), startRequested('op-op')])
      .when(schedule('c1'))
      .thenNothing();
  });
  test('each further crash within the window doubles the delay; past the limit healing gives up', () => {
    const h: VmEvent[] = [...running('on-crash'), crashed()];
    const cycle = (cause: string, attempt: number, delay: number, causeAt: string) => {
      h.push(
        scheduled(cause, attempt, delay, causeAt),
        restartStarted(cause, attempt),
        started(`op-${cause}`),
        crashed(),
      );
    };
    cycle('c1', 1, 1000, at(0));
    vm(h)
      .when(schedule('c2', at(5000)))
      .then([scheduled('c2', 2, 2000, at(5000))]);
    cycle('c2', 2, 2000, at(5000));
    vm(h)
      .when(schedule('c3', at(9000)))
      .then([scheduled('c3', 3, 4000, at(9000))]);
    cycle('c3', 3, 4000, at(9000));
    const s = vm(h)
      .when(schedule('c4', at(20000)))
      .then([
        {
          type: 'VmHealingGaveUp',
          data: {
            causeEventId: 'c4',
            causePosition: '7',
            restarts: 3,
            windowMs: 600000,
            reason:
              'restarted 3 times within 600000 ms (limit 3): healing gave up; the VM stays crashed until someone starts it',
          },
        },
      ]);
    assert.equal(s.state, 'stopped');
    assert.ok(s.crash, 'it still reads crashed');
    // Once the window has passed, a new crash is answered again, from the base delay.
    vm(h)
      .when(schedule('c5', at(600000 + 9001)))
      .then([scheduled('c5', 1, 1000, at(609001))]);
  });
});

describe('VM decider: FireRestart', () => {
  const waiting = [...running('on-crash'), crashed(), scheduled('c1', 1, 1000)];
  test('the timer of the scheduled restart → the normal start path, naming the crash', () => {
    const s = vm(waiting)
      .when({ type: 'FireRestart', operationId: 'op-c1', by: 'system:healing' })
      .then([restartStarted('c1', 1)]);
    assert.deepEqual(s.pending && { kind: s.pending.kind, awaiting: s.pending.awaiting }, {
      kind: 'restart',
      awaiting: 'start',
    });
    assert.equal(s.healing?.scheduled, null);
  });
  test('a timer of another (old) restart, or fired twice → nothing', () => {
    vm(waiting).when({ type: 'FireRestart', operationId: 'op-old', by: 'x' }).thenNothing();
    vm([...waiting, restartStarted('c1', 1)])
      .when({ type: 'FireRestart', operationId: 'op-c1', by: 'x' })
      .thenNothing();
  });
});

describe('VM decider: an operator supersedes healing', () => {
  const waiting = [...running('on-crash'), crashed(), scheduled('c1', 1, 1000)];
  test('start → the scheduled restart is cancelled, then the start', () => {
    vm(waiting)
      .when({ type: 'StartVm', operationId: 'op-s', by: 'alice' })
      .then([
        {
          type: 'VmHealingCancelled',
          data: { operationId: 'op-c1', by: 'alice', reason: 'cancelled: superseded by start op-s' },
        },
        { type: 'VmStartRequested', data: { operationId: 'op-s' } },
      ]);
  });
  test('stop of a crashed VM acknowledges it: healing cancelled, stopped without a job, no longer crashed', () => {
    const s = vm(waiting)
      .when({ type: 'StopVm', operationId: 'op-x', force: false, by: 'alice' })
      .then([
        {
          type: 'VmHealingCancelled',
          data: { operationId: 'op-c1', by: 'alice', reason: 'cancelled: superseded by stop op-x' },
        },
        { type: 'VmStopRequested', data: { operationId: 'op-x', force: false } },
        { type: 'VmStopped', data: { operationId: 'op-x' } },
      ]);
    assert.equal(s.crash, null);
    assert.equal(s.pending, null);
    // Later crashes of others do not resurrect it: nothing is scheduled for an acknowledged VM.
    vm([...waiting, ...[]])
      .when(schedule('c1'))
      .thenNothing();
  });
  test('PATCH restartPolicy never cancels a scheduled restart; the same policy again → nothing', () => {
    vm(waiting)
      .when({ type: 'SetRestartPolicy', operationId: 'op-p', policy: 'never', by: 'alice' })
      .then([
        {
          type: 'VmHealingCancelled',
          data: { operationId: 'op-c1', by: 'alice', reason: 'cancelled: superseded by restartPolicy never op-p' },
        },
        { type: 'VmRestartPolicyChanged', data: { operationId: 'op-p', policy: 'never' } },
      ]);
    vm(waiting).when({ type: 'SetRestartPolicy', operationId: 'op-p', policy: 'on-crash', by: 'a' }).thenNothing();
    assert.equal(stateOf(running('always')).restartPolicy, 'always');
  });
});
