import { randomUUID } from 'node:crypto';
import { parkedStream, type EventParked, type ParkedItem } from '../domain/parked.js';
import { StreamNotFoundError, WrongExpectedVersionError } from '../eventstore/errors.js';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port.js';

/**
 * One consumer's parked events (see domain/parked.ts), kept on its own
 * `parked-<consumer>` stream so that its tail says what was parked last: the
 * consumer handles events in log order, so an event at or before that position
 * is already parked (a restart before the checkpoint was saved, or another
 * process running the same consumer) and is not parked twice. `count` and
 * `last` come from the stream, so they survive a restart: the parked events are
 * still unhandled.
 */
export class ParkingLot {
  private revision: bigint | undefined;
  private lastItem: ParkedItem | undefined;
  private loaded = false;

  constructor(
    private readonly store: EventStore,
    readonly consumer: string,
  ) {}

  /** Events parked by this consumer, ever (0 before the first park or load). */
  get count(): number {
    return this.revision === undefined ? 0 : Number(this.revision) + 1;
  }

  get last(): ParkedItem | undefined {
    return this.lastItem;
  }

  /** Reads what was parked before this process started. */
  async load(): Promise<void> {
    let tail: RecordedEvent[];
    try {
      tail = await this.store.readStream(parkedStream(this.consumer), { direction: 'backwards', maxCount: 1 });
    } catch (err) {
      if (!(err instanceof StreamNotFoundError)) throw err;
      tail = [];
    }
    const e = tail[0];
    this.revision = e?.revision;
    this.lastItem = e ? itemOf(e) : undefined;
    this.loaded = true;
  }

  /** Records `event` as parked with the error; false when it already was. */
  async park(event: RecordedEvent, error: unknown): Promise<boolean> {
    for (;;) {
      if (!this.loaded) await this.load();
      if (this.lastItem && this.lastItem.position >= event.position) return false;
      const parked: EventParked = {
        type: 'EventParked',
        data: {
          consumer: this.consumer,
          position: event.position.toString(),
          eventId: event.id,
          streamId: event.streamId,
          type: event.type,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        },
      };
      try {
        const result = await this.store.append(
          parkedStream(this.consumer),
          [
            {
              id: randomUUID(),
              type: parked.type,
              data: { ...parked.data },
              metadata: {
                principal: `system:${this.consumer}`,
                correlationId: event.metadata.correlationId,
                causationId: event.id,
                at: new Date().toISOString(),
                schema: 1,
              },
            },
          ],
          this.revision ?? 'no_stream',
        );
        const recorded = result.events[result.events.length - 1]!;
        this.revision = recorded.revision;
        this.lastItem = itemOf(recorded);
        return true;
      } catch (err) {
        // Another process running this consumer parked something meanwhile: look at the tail again.
        if (!(err instanceof WrongExpectedVersionError)) throw err;
        this.loaded = false;
      }
    }
  }
}

function itemOf(e: RecordedEvent): ParkedItem {
  const d = e.data as unknown as EventParked['data'];
  return {
    consumer: d.consumer,
    position: BigInt(d.position),
    eventId: d.eventId,
    streamId: d.streamId,
    type: d.type,
    error: d.error,
    at: e.metadata.at,
  };
}
