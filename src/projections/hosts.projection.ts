import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { hostIdOf } from '../domain/streams.js';
import { upcast } from '../domain/upcasters.js';
import { isHostEventType, type HostEvent } from '../domain/host/host.events.js';
import { evolveHost, initialHostState } from '../domain/host/host.state.js';
import type { Projection, ProjectionTx } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import type { HostRecord } from './read-model.types.js';

export class HostsProjection implements Projection {
  readonly name = 'hosts';
  readonly keyPattern = 'host*';

  constructor(private readonly keys: ReadModelKeys) {}

  owns(relativeKey: string): boolean {
    return relativeKey === 'hosts' || relativeKey.startsWith('host:');
  }

  async apply(recorded: RecordedEvent, tx: ProjectionTx): Promise<void> {
    const hostId = hostIdOf(recorded.streamId);
    if (!hostId || !isHostEventType(recorded.type)) return;
    const e = upcast(recorded);
    const prev = await tx.get<HostRecord>(this.keys.host(hostId));
    const state = evolveHost(
      prev?.state ?? initialHostState(),
      { type: e.type, data: e.data } as HostEvent,
      e.metadata.at,
    );
    tx.set(this.keys.host(hostId), {
      state,
      revision: e.revision.toString(),
      createdAt: prev?.createdAt ?? e.metadata.at,
      updatedAt: e.metadata.at,
    } satisfies HostRecord);
    if (!prev) tx.index(this.keys.hostIndex(), Number(e.position), hostId);
  }
}
