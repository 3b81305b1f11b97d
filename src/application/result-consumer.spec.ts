import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { vmStream } from '../domain/streams.js';
import { vmDecider } from '../domain/vm/vm.decider.js';
import type { EventStore } from '../eventstore/event-store.port.js';
import { RecordingStore, tempSqliteStore } from '../../test/support/recording-store.js';
import { migrateTo } from '../../test/support/vm-columns.js';
import { handleCommand } from './handle-command.js';
import type { ResultMessage } from './jobs.js';
import { AggregateLoader } from './load-aggregate.js';
import { ResultConsumer } from './result-consumer.js';

const VM = 'vm-1';
const OP = 'op-create';

describe('ResultConsumer', () => {
  let store: EventStore;
  let cleanup: () => Promise<void>;
  let consumer: ResultConsumer;
  const commands: Array<{ type: string; ok: boolean }> = [];
  // process() is what the stream reader calls; the spec hands it results directly (the consumer is never started).
  const deliver = (data: ResultMessage, id: string) => consumer.process(data, id);
  const vmEvents = async () => (await store.readStream(vmStream(VM))).map((e) => e.type);

  before(async () => {
    const tmp = await tempSqliteStore();
    store = tmp.store;
    cleanup = tmp.cleanup;
    const loader = new AggregateLoader(store);
    consumer = new ResultConsumer(loader, {}, 'spec', pino({ level: 'silent' }), (type, _ms, ok) =>
      commands.push({ type, ok }),
    );
    const meta = { principal: 'alice', correlationId: OP, causationId: 'http' };
    const spec = { name: 'web', vcpus: 1, memoryMiB: 256, diskGiB: 1 };
    const stream = vmStream(VM);
    await handleCommand(
      loader,
      vmDecider,
      stream,
      { type: 'CreateVm', vmId: VM, operationId: OP, spec, hostId: null, start: true },
      meta,
    );
    await handleCommand(loader, vmDecider, stream, { type: 'PlaceVm', operationId: OP, hostId: 'h1' }, meta);
  });
  after(() => cleanup());

  const defineSucceeded: ResultMessage = {
    kind: 'succeeded',
    vmId: VM,
    operationId: OP,
    step: 'define',
    jobId: 'job-define',
    principal: 'alice',
    output: {},
  };

  test('a result is recorded once: a redelivered one appends nothing and is not an error', async () => {
    await deliver(defineSucceeded, 'r1');
    const once = await vmEvents();
    assert.deepEqual(once.slice(-1), ['VmDefined']);
    await deliver(defineSucceeded, 'r2');
    await deliver({ ...defineSucceeded, kind: 'failed', reason: 'late failure', attempts: 1 }, 'r3');
    assert.deepEqual(await vmEvents(), once, 'the log is unchanged');
    assert.deepEqual(commands.slice(-3), [
      { type: 'RecordStepSucceeded', ok: true },
      { type: 'RecordStepSucceeded', ok: true },
      { type: 'RecordStepFailed', ok: true },
    ]);
  });

  test('a result for an operation that is not the VM’s appends nothing', async () => {
    const before = await vmEvents();
    await deliver({ ...defineSucceeded, operationId: 'op-other', step: 'start', output: {} }, 'r4');
    assert.deepEqual(await vmEvents(), before);
  });

  test('a stale observation (made at an older revision) is dropped, not recorded', async () => {
    const before = await vmEvents();
    await deliver(
      {
        kind: 'observed',
        vmId: VM,
        hostId: 'h1',
        observed: 'absent',
        reason: 'reconciler',
        jobActive: false,
        principal: 'system:reconciler@h1',
        revision: '0',
      },
      'r5',
    );
    assert.deepEqual(await vmEvents(), before);
    assert.deepEqual(commands.at(-1), { type: 'ReportObservedState', ok: false });
  });
  test('an outcome that carries `started` records the operation running first, once, redelivered or not', async () => {
    const vm = 'vm-carried';
    const op = 'op-create-2';
    const meta = { principal: 'alice', correlationId: op, causationId: 'http' };
    const loader = new AggregateLoader(store);
    const spec = { name: 'db', vcpus: 1, memoryMiB: 256, diskGiB: 1 };
    const create = { type: 'CreateVm', vmId: vm, operationId: op, spec, hostId: null, start: true } as const;
    await handleCommand(loader, vmDecider, vmStream(vm), create, meta);
    await handleCommand(loader, vmDecider, vmStream(vm), { type: 'PlaceVm', operationId: op, hostId: 'h1' }, meta);
    const ended = { ...defineSucceeded, vmId: vm, operationId: op, started: true as const };
    await deliver({ ...ended, jobId: 'job-define-2' }, 'r6');
    await deliver({ ...ended, jobId: 'job-define-2' }, 'r7');
    await deliver({ ...ended, step: 'start', output: {}, jobId: 'job-start-2' }, 'r8');
    const types = (await store.readStream(vmStream(vm))).map((e) => e.type);
    assert.deepEqual(types, ['VmCreateRequested', 'VmPlaced', 'VmOperationRunning', 'VmDefined', 'VmStarted']);
  });

  describe('a define-then-start job (one message for both steps)', () => {
    const create = async (vmId: string) => {
      const meta = { principal: 'alice', correlationId: OP, causationId: 'http' };
      const spec = { name: vmId, vcpus: 1, memoryMiB: 256, diskGiB: 1 };
      const loader = new AggregateLoader(store);
      const cmd = { type: 'CreateVm' as const, vmId, operationId: OP, spec, hostId: null, start: true };
      await handleCommand(loader, vmDecider, vmStream(vmId), cmd, meta);
      await handleCommand(loader, vmDecider, vmStream(vmId), { type: 'PlaceVm', operationId: OP, hostId: 'h1' }, meta);
    };
    const eventsOf = async (vmId: string) => (await store.readStream(vmStream(vmId))).map((e) => e.type);
    const base = { vmId: 'vm-2', operationId: OP, jobId: 'job-define', principal: 'alice' };
    const prior = { step: 'define' as const, output: { startFollows: true } };

    test('the start’s success records the define first, then the start; a redelivery records nothing', async () => {
      await create('vm-2');
      const msg: ResultMessage = { ...base, kind: 'succeeded', step: 'start', output: {}, prior };
      await deliver(msg, 'r6');
      const events = await eventsOf('vm-2');
      assert.deepEqual(events.slice(-2), ['VmDefined', 'VmStarted']);
      await deliver(msg, 'r6');
      assert.deepEqual(await eventsOf('vm-2'), events, 'the log is unchanged');
    });

    test('a create’s one result (running, defined, started) is one append, each event with its command’s metadata', async () => {
      const recording = new RecordingStore(store);
      const own = new ResultConsumer(new AggregateLoader(recording), {}, 'spec', pino({ level: 'silent' }));
      await create('vm-4');
      const msg: ResultMessage = {
        ...base,
        vmId: 'vm-4',
        kind: 'succeeded',
        step: 'start',
        output: {},
        prior,
        started: true,
      };
      await own.process(msg, 'r9');
      assert.deepEqual(
        recording.appends.map((a) => a.events),
        [3],
        'one append of three events',
      );
      const events = (await store.readStream(vmStream('vm-4'))).slice(-3);
      assert.deepEqual(
        events.map((e) => [e.type, e.metadata.command?.type, e.metadata.causationId]),
        [
          ['VmOperationRunning', 'MarkOperationRunning', 'job-define'],
          ['VmDefined', 'RecordStepSucceeded', 'job-define'],
          ['VmStarted', 'RecordStepSucceeded', 'job-define'],
        ],
      );
      assert.deepEqual(
        events.map((e) => e.revision),
        [2n, 3n, 4n],
      );
      await own.process(msg, 'r9');
      assert.equal(recording.appends.length, 1, 'redelivered: nothing appended');
    });

    test('a start that failed after its define: defined, then the create failed at start (as with two jobs)', async () => {
      await create('vm-3');
      await deliver(
        { ...base, vmId: 'vm-3', kind: 'failed', step: 'start', reason: 'no kvm', attempts: 3, prior },
        'r7',
      );
      const events = await store.readStream(vmStream('vm-3'));
      assert.deepEqual(
        events.slice(-2).map((e) => e.type),
        ['VmDefined', 'VmOperationFailed'],
      );
      assert.equal((events.at(-1)!.data as { step: string }).step, 'start');
    });
  });
  describe('a migration whose next job the previous step’s worker queued (prior: the steps before, oldest first)', () => {
    const MIG = 'op-migrate';
    const endpoint = { uri: 'tcp:127.0.0.1:4444' };
    const prepared = { step: 'prepareIncoming' as const, output: { endpoint } };
    const migrated = { step: 'migrate' as const, output: {} };
    const base = { operationId: MIG, principal: 'alice' };
    const migrating = async (vmId: string) => {
      const loader = new AggregateLoader(store);
      const meta = { principal: 'alice', correlationId: 'op-c', causationId: 'http' };
      const spec = { name: vmId, vcpus: 1, memoryMiB: 256, diskGiB: 1 };
      const create = { type: 'CreateVm' as const, vmId, operationId: 'op-c', spec, hostId: null, start: true };
      await handleCommand(loader, vmDecider, vmStream(vmId), create, meta);
      await handleCommand(
        loader,
        vmDecider,
        vmStream(vmId),
        { type: 'PlaceVm', operationId: 'op-c', hostId: 'h1' },
        meta,
      );
      await deliver(
        {
          vmId,
          operationId: 'op-c',
          principal: 'alice',
          jobId: `${vmId}-create`,
          kind: 'succeeded',
          step: 'start',
          output: {},
          prior: { step: 'define', output: { startFollows: true } },
        },
        `${vmId}-create`,
      );
      await handleCommand(loader, vmDecider, vmStream(vmId), migrateTo(true, 'h2', MIG), {
        ...meta,
        correlationId: MIG,
      });
    };
    const migrationEvents = async (vmId: string) =>
      (await store.readStream(vmStream(vmId))).map((e) => e.type).filter((t) => t.startsWith('VmMigrat'));

    test('the results consumed last step first: each step recorded once, in order, the endpoint kept', async () => {
      await migrating('vm-m1');
      const vmId = 'vm-m1';
      // The target's finishIncoming (queued by the source, which got its migrate from the target) first.
      await deliver(
        {
          ...base,
          vmId,
          jobId: 'j-finish',
          kind: 'succeeded',
          step: 'finishIncoming',
          output: {},
          prior: [prepared, migrated],
        },
        'r-finish',
      );
      await deliver(
        { ...base, vmId, jobId: 'j-migrate', kind: 'succeeded', step: 'migrate', output: {}, prior: prepared },
        'r-migrate',
      );
      await deliver({ ...base, vmId, jobId: 'j-prepare', kind: 'succeeded', ...prepared }, 'r-prepare');
      assert.deepEqual(await migrationEvents(vmId), [
        'VmMigrationRequested',
        'VmMigrationTargetPrepared',
        'VmMigrationHandedOff',
        'VmMigrated',
      ]);
      const events = await store.readStream(vmStream(vmId));
      const prep = events.find((e) => e.type === 'VmMigrationTargetPrepared');
      assert.deepEqual((prep?.data as { endpoint: unknown }).endpoint, endpoint);
    });

    test('a migrate that failed after the target prepared: prepared, then the migration failed at migrate', async () => {
      await migrating('vm-m2');
      const vmId = 'vm-m2';
      await deliver(
        {
          ...base,
          vmId,
          jobId: 'j-migrate',
          kind: 'failed',
          step: 'migrate',
          reason: 'refused',
          attempts: 1,
          prior: prepared,
        },
        'r-migrate-failed',
      );
      const events = await store.readStream(vmStream(vmId));
      assert.deepEqual(
        events.slice(-2).map((e) => e.type),
        ['VmMigrationTargetPrepared', 'VmOperationFailed'],
      );
      assert.equal((events.at(-1)!.data as { step: string }).step, 'migrate');
    });
  });
});
