import type { Logger } from 'pino';
import type { EventStore, RecordedEvent, Subscription } from '../eventstore/event-store.port.js';
import type { VmCommand } from '../domain/vm/vm.commands.js';
import { vmDecider } from '../domain/vm/vm.decider.js';
import { isVmEventType, type VmEvent } from '../domain/vm/vm.events.js';
import { isPoison, type ParkedItem } from '../domain/parked.js';
import type { VmState } from '../domain/vm/vm.state.js';
import { reactToVmEvent } from '../sagas/vm.saga.js';
import { fenceSaga, healingSaga } from '../sagas/healing.saga.js';
import type { HealingSettings } from '../domain/vm/vm.healing.js';
import { isHostEventType, type HostEvent } from '../domain/host/host.events.js';
import { recoverFencedHost } from './fence-recovery.js';
import { tracePhase } from './phase-trace.js';
import type { CommandMeta } from './handle-command.js';
import { EventStates } from './event-states.js';
import { inLanes, KeyedMutex } from './keyed-mutex.js';
import type { AggregateLoader } from './load-aggregate.js';
import { HostDirectory } from './placement.js';
import { operationsAwaitingJobs } from './saga-redrive.js';
import type { JobSink, Parking } from './ports.js';
import { hostIdOf, vmIdOf, volumeIdOf } from '../domain/streams.js';
import { isVolumeEventType } from '../domain/volume/volume.events.js';
import { VolumeSagaSteps } from './volume-saga-steps.js';
import { upcast } from '../domain/upcasters.js';
import { VmSagaActions, type RestartTimerPort } from './saga-vm-actions.js';

export const SAGA_CHECKPOINT = 'sagas';

/** VMs handled at once; one VM's events always share a lane, so they stay in log order. */
export const SAGA_LANES = 16;
/** Events per page: the page is the unit after which the checkpoint may move. */
const SAGA_PAGE = 200;

/** Healing's backoff and limit, and the timers that start scheduled restarts. */
export interface SagaHealing {
  settings: HealingSettings;
  timers?: RestartTimerPort;
}

/** Defaults (config.ts HEALING_*): 1 s, doubling, capped at 60 s; 5 restarts in 10 minutes. */
export const DEFAULT_HEALING: HealingSettings = { baseMs: 1000, maxMs: 60000, maxRestarts: 5, windowMs: 600000 };

/**
 * Drives the process managers from a checkpointed subscription to the global
 * log (never an in-process bus). The checkpoint lives in the event store so a
 * Redis wipe cannot make sagas replay side effects; and every action is
 * guarded by the VM's current state, so a replay after a crash between the
 * action and the checkpoint does nothing twice. An event the sagas cannot
 * handle (a poison event) is parked and the runner goes on.
 */
export class SagaRunner {
  private sub: Subscription | undefined;
  private lastSaved: bigint | undefined;
  private savedAt = 0;
  private readonly states: EventStates<VmCommand, VmEvent, VmState>;
  private readonly hosts: HostDirectory;
  /** Placements, capacity changes and fence recoveries take turns (see VmSagaActions). */
  private readonly capacity = new KeyedMutex();
  private readonly volumes: VolumeSagaSteps;
  private readonly actions: VmSagaActions;
  /** Position of the last event fully handled (for /health lag). */
  position: bigint | undefined;

  constructor(
    private readonly aggregates: AggregateLoader,
    private readonly jobs: JobSink,
    private readonly log: Logger,
    private readonly parking: Parking,
    private readonly healing: SagaHealing = { settings: DEFAULT_HEALING },
  ) {
    this.states = new EventStates(aggregates, vmDecider);
    this.hosts = new HostDirectory(aggregates.store);
    this.volumes = new VolumeSagaSteps(aggregates, jobs);
    this.actions = new VmSagaActions(aggregates, jobs, this.hosts, this.capacity, this.volumes, log, healing.timers);
  }

  private get store(): EventStore {
    return this.aggregates.store;
  }

  /** Events parked since the log began (they stay unhandled): /metrics counts them, /health is degraded. */
  get parked(): number {
    return this.parking.count;
  }

  get lastParked(): ParkedItem | undefined {
    return this.parking.last;
  }

  async start(): Promise<void> {
    // A stopped runner starts again when its process wins the control-plane lease back.
    this.stopping = false;
    await this.parking.load();
    const after = await this.store.readCheckpoint(SAGA_CHECKPOINT);
    this.position = after;
    this.lastSaved = after;
    this.subscribe(after);
    this.log.info({ after: after?.toString() ?? 'start' }, 'sagas subscribed');
    this.watchQueues();
  }

  /**
   * The checkpoint says which events were handled, not whether their jobs still
   * exist: when Redis comes back empty, the jobs of every operation still
   * waiting for one are put back (same job ids, so a job that survived is not
   * doubled, and the decider takes one result per step whatever happens).
   */
  private watchQueues(): void {
    if (!this.jobs.queuesLost) return;
    let busy = false;
    const check = async () => {
      if (busy || this.stopping) return;
      busy = true;
      try {
        if (await this.jobs.queuesLost!()) {
          await this.redrive();
          await this.jobs.queuesRecovered?.();
        }
      } catch (err) {
        this.log.warn({ err }, 'putting back lost jobs failed (Redis down?); trying again');
      } finally {
        busy = false;
      }
    };
    void check();
    this.queueWatch = setInterval(() => void check(), 1000);
    this.queueWatch.unref();
  }

  async redrive(): Promise<number> {
    const targets = await operationsAwaitingJobs(this.aggregates);
    for (const t of targets) {
      for (const e of t.events) await this.handleVmEvent(e);
    }
    const volumes = await this.volumes.redrive();
    this.redriven += targets.length + volumes;
    if (targets.length + volumes)
      this.log.warn({ operations: targets.length + volumes }, 'queues were lost: jobs of pending operations put back');
    return targets.length + volumes;
  }

  /**
   * A subscription gives up when the store stays unreachable (an outage longer
   * than its retry budget); resubscribe from the last handled event, or the
   * sagas would stay dead after the store came back.
   */
  private subscribe(after: bigint | undefined): void {
    this.sub = this.store.subscribeToAll({
      ...(after !== undefined ? { after } : {}),
      batchSize: SAGA_PAGE,
      onEvent: (e) => this.handlePage([e]),
      onPage: (page) => this.handlePage(page),
      onError: (err) => {
        if (this.stopping) return;
        this.log.error({ err }, 'saga subscription stopped; resubscribing');
        setTimeout(() => {
          if (!this.stopping) this.subscribe(this.position);
        }, 1000).unref();
      },
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.queueWatch);
    await this.sub?.stop();
    this.sub = undefined;
    await this.saveCheckpoint(true);
  }

  private async saveCheckpoint(force = false): Promise<void> {
    if (this.position === undefined || this.position === this.lastSaved) return;
    // Saving every event would double the write load; a replay of the few events since is harmless (guards).
    if (!force && Date.now() - this.savedAt < 250) return;
    await this.store.writeCheckpoint(SAGA_CHECKPOINT, this.position);
    this.lastSaved = this.position;
    this.savedAt = Date.now();
  }

  private stopping = false;
  private queueWatch: NodeJS.Timeout | undefined;
  /** Operations whose jobs were put back after the queues were lost (for logs and tests). */
  redriven = 0;

  /**
   * A failure (Redis or the store briefly unavailable) must neither skip the
   * event nor kill the subscription: retry the same event with backoff. A
   * poison event (domain/parked.ts) would fail forever: park it and go on.
   */
  /**
   * A page of the log: VMs in parallel lanes, each VM's events in order; the
   * checkpoint moves to the page's end only once every lane finished, so it
   * never passes an event still in flight (a crash replays the page, and the
   * guards make the replay do nothing twice).
   */
  private async handlePage(page: RecordedEvent[]): Promise<void> {
    // Before any lane places: every host registered up to this page's end is then known without a read.
    this.hosts.observe(this.position, page);
    // Only events some saga handles, each stream its lane: the same routing decides both (a filter
    // of its own once left volume events out, and every volume operation waited forever).
    const mine = page.flatMap((e) => {
      const handler = this.handlerFor(e);
      return handler ? [{ e, handler }] : [];
    });
    await inLanes(
      mine,
      SAGA_LANES,
      ({ e }) => e.streamId,
      ({ e, handler }) => this.handle(e, handler),
    );
    this.position = page[page.length - 1]!.position;
    await this.saveCheckpointRetrying();
  }

  private async saveCheckpointRetrying(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.saveCheckpoint();
      } catch (err) {
        if (this.stopping) throw err;
        const delay = Math.min(5000, 100 * 2 ** Math.min(attempt, 6));
        this.log.warn({ err, attempt }, 'saving the saga checkpoint failed; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** The saga step for this event: VM events, the host events the fence saga acts on, volumes' own events. */
  private handlerFor(e: RecordedEvent): ((e: RecordedEvent) => Promise<void>) | undefined {
    if (vmIdOf(e.streamId) && isVmEventType(e.type)) return (r) => this.handleVmEvent(r);
    if (e.type === 'HostFenced' && isHostEventType(e.type)) return (r) => this.handleHostEvent(r);
    if (volumeIdOf(e.streamId) && isVolumeEventType(e.type)) return (r) => this.volumes.handleVolumeEvent(r);
    return undefined;
  }

  private async handle(recorded: RecordedEvent, handler: (e: RecordedEvent) => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        try {
          await handler(recorded);
        } catch (err) {
          if (!isPoison(err)) throw err;
          await this.park(recorded, err);
        }
        return;
      } catch (err) {
        if (this.stopping) throw err;
        const delay = Math.min(5000, 100 * 2 ** Math.min(attempt, 6));
        this.log.warn({ err, position: recorded.position.toString(), attempt }, 'saga step failed; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async park(recorded: RecordedEvent, err: unknown): Promise<void> {
    if (!(await this.parking.park(recorded, err))) return;
    this.log.error(
      { err, position: recorded.position.toString(), eventId: recorded.id, type: recorded.type },
      'sagas cannot handle this event; parked it and went on',
    );
  }

  private async handleVmEvent(recorded: RecordedEvent): Promise<void> {
    tracePhase(vmIdOf(recorded.streamId) ?? recorded.streamId, `saga ${recorded.type}`);
    const { before, after, current } = await this.states.around(recorded);
    const event = { type: recorded.type, data: upcast(recorded).data } as VmEvent;
    const cause = { id: recorded.id, position: recorded.position.toString(), at: recorded.metadata.at };
    const actions = [
      ...reactToVmEvent(event, before, after),
      ...healingSaga(event, cause, after, this.healing.settings),
    ];
    const meta: CommandMeta = {
      principal: recorded.metadata.principal,
      correlationId: recorded.metadata.correlationId,
      causationId: recorded.id,
    };
    // Read before the first action, as every guard must see the VM as it was before any of them
    // (an action appends to the VM's stream); an event that asks for nothing reads nothing.
    if (actions.length > 0) await current();
    for (const [i, action] of actions.entries()) {
      const proceed = await this.actions.perform(action, current, recorded, meta, i);
      if (!proceed) break;
    }
  }

  private async handleHostEvent(recorded: RecordedEvent): Promise<void> {
    const hostId = hostIdOf(recorded.streamId);
    if (!hostId) return;
    const meta: CommandMeta = {
      principal: 'system:fence-recovery',
      correlationId: recorded.metadata.correlationId,
      causationId: recorded.id,
    };
    for (const action of fenceSaga({ type: recorded.type, data: upcast(recorded).data } as HostEvent, hostId)) {
      if (action.type !== 'recoverHost') continue;
      // Recovery places the host's VMs elsewhere: it takes its turn with the lanes' placements.
      await this.capacity.run('hosts', () =>
        recoverFencedHost(this.aggregates, this.hosts, action.hostId, action.fenceId, meta, this.log),
      );
    }
  }
}
