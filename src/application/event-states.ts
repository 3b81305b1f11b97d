import type { Decider, DomainEvent } from '../domain/decider.js';
import { upcast } from '../domain/upcasters.js';
import type { RecordedEvent } from '../eventstore/event-store.port.js';
import type { AggregateLoader, LoadedAggregate } from './load-aggregate.js';

export interface StatesAround<S> {
  /** The aggregate just before the event. */
  before: S;
  /** The aggregate just after it. */
  after: S;
  /**
   * The aggregate now (later events included): what guards a side effect. Asked of the
   * loader on the first call only (then the same answer): an event the sagas ask nothing
   * for costs no stream read, and one whose stream this process alone writes is answered
   * from the loader's cache (AggregateLoader.loadCurrent).
   */
  current: () => Promise<S>;
}

/**
 * The states a process manager needs around each event of a stream it follows
 * in log order. The state after the last handled event of each stream is kept,
 * so the next event of that stream is one evolve away: no stream is re-read per
 * event. Only the first event seen of a stream (after a start, or an event out
 * of order as a redrive hands in) folds the stream up to it.
 */
export class EventStates<C, E extends DomainEvent, S> {
  private readonly handled = new Map<string, LoadedAggregate<S>>();

  constructor(
    private readonly aggregates: AggregateLoader,
    private readonly decider: Decider<C, E, S>,
    private readonly limit = 20000,
  ) {}

  async around(recorded: RecordedEvent): Promise<StatesAround<S>> {
    const streamId = recorded.streamId;
    const before = await this.stateBefore(recorded);
    const after = this.decider.evolve(before, { type: recorded.type, data: upcast(recorded).data } as E);
    this.keep(streamId, { state: after, revision: recorded.revision });
    let current: Promise<S> | undefined;
    return {
      before,
      after,
      current: () =>
        (current ??= this.aggregates.loadCurrent(this.decider, streamId, recorded.revision).then((l) => l.state)),
    };
  }

  private async stateBefore(recorded: RecordedEvent): Promise<S> {
    if (recorded.revision === 0n) return this.decider.initialState();
    const known = this.handled.get(recorded.streamId);
    if (known?.revision === recorded.revision - 1n) return known.state;
    // From the cached state or the stream's snapshot when older than the event: not a fold from the start.
    return (await this.aggregates.loadBefore(this.decider, recorded.streamId, recorded.revision)).state;
  }

  private keep(streamId: string, at: LoadedAggregate<S>): void {
    const known = this.handled.get(streamId);
    // A redrive hands in older events again: keep the newest state, the live subscription continues from it.
    if (known?.revision !== undefined && at.revision !== undefined && known.revision > at.revision) return;
    this.handled.delete(streamId);
    this.handled.set(streamId, at);
    if (this.handled.size > this.limit) this.handled.delete(this.handled.keys().next().value!);
  }
}
