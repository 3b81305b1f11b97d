import type { EventStore, RecordedEvent } from '../eventstore/event-store.port.js';
import { applyToFleet, copyFleet, emptyFleet, type FleetState } from './fleet-fold.js';

/** Where to cut the log: after a log position, or after every event recorded at or before an instant. */
export type FleetPoint = { kind: 'position'; position: bigint } | { kind: 'time'; at: Date };

const STREAMS = ['vm-', 'host-'];

/**
 * The fleet (every VM and host) at any point of the log, without replaying the
 * log per question. Catching up folds new events once into a live fleet and
 * keeps a copy of it every `every` events: a checkpoint, with its position and
 * the latest event time up to it. A question folds forward from the nearest
 * checkpoint at or before its point, reading at most `every` events.
 *
 * The time index is the checkpoints' running maximum of `at`: the first event
 * recorded after the instant ends the fold, as GET /v1/vms/{id}?at= cuts one
 * stream. Checkpoints live in this process's memory; a restart rebuilds them
 * with one pass over the VM and host streams.
 */
export class FleetHistory {
  private readonly live = emptyFleet();
  private readonly checkpoints: FleetState[] = [emptyFleet()];
  private sinceCheckpoint = 0;
  private syncing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: EventStore,
    private readonly every = 1000,
    private readonly pageSize = 1000,
  ) {}

  /** Folds whatever the log gained since the last call; concurrent callers share one pass. */
  sync(): Promise<void> {
    const next = this.syncing.then(() => this.catchUp());
    this.syncing = next.catch(() => undefined);
    return next;
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      const page = await this.read(this.live.position, this.pageSize);
      for (const e of page) {
        applyToFleet(this.live, e);
        if (++this.sinceCheckpoint >= this.every) {
          this.checkpoints.push(copyFleet(this.live));
          this.sinceCheckpoint = 0;
        }
      }
      if (page.length < this.pageSize) return;
    }
  }

  private read(after: bigint | undefined, maxCount: number): Promise<RecordedEvent[]> {
    return this.store.readAll({ ...(after !== undefined ? { after } : {}), streamPrefixes: STREAMS, maxCount });
  }

  /** Position of the last VM or host event folded (after sync: the log's). */
  get head(): bigint | undefined {
    return this.live.position;
  }

  /** Position of the log's last event, any stream (a position between two VM events is still a point of the log). */
  logHead(): Promise<bigint | undefined> {
    return this.store.headPosition();
  }

  /** How many checkpoints are kept (the bench and tests look). */
  get checkpointCount(): number {
    return this.checkpoints.length;
  }

  /** The fleet at `point`, after catching up with the log. A time past the last event is the fleet now. */
  async at(point: FleetPoint): Promise<FleetState> {
    await this.sync();
    // Everything folded so far is at or before the point (the usual "now" or a future time): no read at all.
    if (this.reaches(this.live, point)) return copyFleet(this.live);
    const fleet = copyFleet(this.checkpoints[this.nearest(point)]!);
    for (;;) {
      const page = await this.read(fleet.position, this.pageSize);
      for (const e of page) {
        if (!this.admits(e, point)) return fleet;
        applyToFleet(fleet, e);
      }
      if (page.length < this.pageSize) return fleet;
    }
  }

  /** True when everything folded into `f` is at or before `point`. */
  private reaches(f: FleetState, point: FleetPoint): boolean {
    return point.kind === 'position'
      ? f.position === undefined || f.position <= point.position
      : f.maxAt <= point.at.getTime();
  }

  private admits(e: RecordedEvent, point: FleetPoint): boolean {
    return point.kind === 'position' ? e.position <= point.position : Date.parse(e.metadata.at) <= point.at.getTime();
  }

  /** Index of the last checkpoint at or before `point` (binary search: positions and running maxima only grow). */
  private nearest(point: FleetPoint): number {
    let lo = 0;
    let hi = this.checkpoints.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.reaches(this.checkpoints[mid]!, point)) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
