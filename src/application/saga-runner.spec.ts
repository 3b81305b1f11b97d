import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { hostDecider } from '../domain/host/host.decider.js';
import { parkedStream } from '../domain/parked.js';
import { hostStream, vmStream } from '../domain/streams.js';
import type { VmCommand } from '../domain/vm/vm.commands.js';
import { vmDecider } from '../domain/vm/vm.decider.js';
import { StreamNotFoundError } from '../eventstore/errors.js';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port.js';
import { ParkingLot } from '../projections/parking-lot.js';
import { waitUntil } from '../../test/support/e2e.js';
import { RecordingJobSink } from '../../test/support/recording-job-sink.js';
import { tempSqliteStore } from '../../test/support/recording-store.js';
import { handleCommand, type CommandMeta } from './handle-command.js';
import { AggregateLoader } from './load-aggregate.js';
import { SAGA_CHECKPOINT, SagaRunner } from './saga-runner.js';

const META: CommandMeta = { principal: 'alice', correlationId: 'op', causationId: 'http:op' };
const log = pino({ level: 'silent' });
const SPEC = { name: 'web', vcpus: 1, memoryMiB: 256, diskGiB: 1 };

describe('SagaRunner (SQLite store)', () => {
  let store: EventStore;
  let cleanup: () => Promise<void>;
  const running: SagaRunner[] = [];

  /** A process start: a new loader (empty cache) and a runner resuming from the stored checkpoint. */
  async function startRunner(sink: RecordingJobSink): Promise<SagaRunner> {
    const runner = new SagaRunner(new AggregateLoader(store), sink, log, new ParkingLot(store, SAGA_CHECKPOINT));
    await runner.start();
    running.push(runner);
    return runner;
  }
  async function atHead(runner: SagaRunner): Promise<void> {
    const head = await store.headPosition();
    await waitUntil('the sagas at the head of the log', async () => runner.position === head, 10_000);
  }
  const vmCommand = (vmId: string, cmd: VmCommand) =>
    handleCommand(new AggregateLoader(store), vmDecider, vmStream(vmId), cmd, { ...META, correlationId: vmId });
  const streamOf = async (id: string): Promise<RecordedEvent[]> =>
    store.readStream(id).catch((err: unknown) => {
      if (err instanceof StreamNotFoundError) return [];
      throw err;
    });

  before(async () => {
    const tmp = await tempSqliteStore();
    store = tmp.store;
    cleanup = tmp.cleanup;
    await handleCommand(
      new AggregateLoader(store),
      hostDecider,
      hostStream('h1'),
      {
        type: 'RegisterHost',
        hostId: 'h1',
        name: 'h1',
        driver: 'simulated',
        uri: 'sim://',
        capacity: { vcpus: 8, memoryMiB: 8192 },
      },
      META,
    );
  });
  after(async () => {
    for (const r of running) await r.stop();
    await cleanup();
  });

  test('a create flows to placement and a define job queued by the placement under the define id; a restart enqueues nothing twice', async () => {
    const sink = new RecordingJobSink();
    let runner = await startRunner(sink);
    const vmId = randomUUID();
    await vmCommand(vmId, { type: 'CreateVm', vmId, operationId: vmId, spec: SPEC, hostId: null, start: true });

    await waitUntil('the define job', async () => sink.jobs.size === 1, 10_000);
    const requested = (await streamOf(vmStream(vmId))).find((e) => e.type === 'VmCreateRequested')!;
    const placedId = `${vmId}.define`;
    const define = sink.jobs.get(placedId);
    assert.ok(define, `the job id is ${placedId}; got ${[...sink.jobs.keys()].join(', ')}`);
    assert.equal(define.hostId, 'h1');
    assert.equal(define.data.step, 'define');
    assert.equal(define.data.causationId, requested.id, 'queued by the placement, in the pass over the request');
    assert.equal(define.data.principal, 'alice');
    // The pass over VmPlaced queues the same id again: still one job.
    await atHead(runner);
    assert.deepEqual([...sink.jobs.keys()], [placedId]);
    assert.ok((await streamOf(vmStream(vmId))).some((e) => e.type === 'VmPlaced'));

    // The worker's result: the saga asks for the start step, caused by VmDefined.
    await vmCommand(vmId, { type: 'RecordStepSucceeded', operationId: vmId, step: 'define', output: {}, at: 'now' });
    await waitUntil('the start job', async () => sink.jobs.size === 2, 10_000);
    const defined = (await streamOf(vmStream(vmId))).find((e) => e.type === 'VmDefined')!;
    assert.equal(sink.jobs.get(defined.id)?.data.step, 'start');
    await atHead(runner);
    const vmEvents = (await streamOf(vmStream(vmId))).length;
    const hostEvents = (await streamOf(hostStream('h1'))).length;

    // Restart from the saved checkpoint: nothing to do again.
    await runner.stop();
    const calls = sink.calls;
    runner = await startRunner(sink);
    await atHead(runner);
    assert.equal(sink.calls, calls, 'no enqueue after a clean restart');

    // A crash before the checkpoint was saved: the whole history is handled again.
    await runner.stop();
    const first = (await store.readAll({ maxCount: 1 }))[0]!;
    await store.writeCheckpoint(SAGA_CHECKPOINT, first.position);
    runner = await startRunner(sink);
    await atHead(runner);
    assert.deepEqual([...sink.jobs.keys()].sort(), [placedId, defined.id].sort(), 'no job under a new id');
    assert.equal((await streamOf(vmStream(vmId))).length, vmEvents, 'no VM event twice (no second placement)');
    assert.equal((await streamOf(hostStream('h1'))).length, hostEvents, 'no second reservation');
    await runner.stop();
  });

  test('a poison event is parked once, the runner goes on with the next one, a restart does not park it again', async () => {
    const sink = new RecordingJobSink();
    let runner = await startRunner(sink);
    const parkedBefore = runner.parked;
    // A create whose spec cannot be read: the placement saga fails on it with a TypeError, every time.
    const poisonVm = randomUUID();
    const poison = (
      await store.append(
        vmStream(poisonVm),
        [
          {
            id: randomUUID(),
            type: 'VmCreateRequested',
            data: { vmId: poisonVm, operationId: 'op-poison', spec: null, requestedHostId: null, start: true },
            metadata: { principal: 'alice', correlationId: 'op-poison', causationId: 'x', at: 'now', schema: 1 },
          },
        ],
        'no_stream',
      )
    ).events[0]!;
    const vmId = randomUUID();
    await vmCommand(vmId, { type: 'CreateVm', vmId, operationId: vmId, spec: SPEC, hostId: null, start: true });

    await waitUntil('the next create placed and its define job queued', async () => sink.jobs.size === 1, 10_000);
    assert.equal(runner.parked, parkedBefore + 1);
    assert.equal(runner.lastParked?.eventId, poison.id);
    const parked = await streamOf(parkedStream(SAGA_CHECKPOINT));
    assert.equal(parked.length, 1);
    assert.deepEqual(
      { ...parked[0]!.data, error: undefined },
      {
        consumer: SAGA_CHECKPOINT,
        position: poison.position.toString(),
        eventId: poison.id,
        streamId: vmStream(poisonVm),
        type: 'VmCreateRequested',
        error: undefined,
      },
    );
    assert.match(String(parked[0]!.data.error), /^TypeError: /);

    // Restart as after a crash before the checkpoint: the poison event is met again, and not parked again.
    await runner.stop();
    await store.writeCheckpoint(SAGA_CHECKPOINT, poison.position - 1n);
    runner = await startRunner(sink);
    assert.equal(runner.parked, 1, 'the count survives the restart: the event is still unhandled');
    await atHead(runner);
    assert.equal((await streamOf(parkedStream(SAGA_CHECKPOINT))).length, 1);
    assert.equal(runner.lastParked?.eventId, poison.id);
  });
});
