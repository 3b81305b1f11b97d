import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { networkIdOf } from '../domain/streams.js';
import { upcast } from '../domain/upcasters.js';
import { isNetworkEventType, type NetworkEvent } from '../domain/network/network.events.js';
import { evolveNetwork, initialNetworkState } from '../domain/network/network.state.js';
import type { Projection, ProjectionTx } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import type { NetworkRecord } from './read-model.types.js';

/** Networks as GET /v1/networks shows them: one record per network with its allocations; deleted ones kept. */
export class NetworksProjection implements Projection {
  readonly name = 'networks';
  readonly keyPattern = 'network*';

  constructor(private readonly keys: ReadModelKeys) {}

  owns(relativeKey: string): boolean {
    return relativeKey === 'networks' || relativeKey.startsWith('network:');
  }

  handles(e: Pick<RecordedEvent, 'streamId' | 'type'>): boolean {
    return !!networkIdOf(e.streamId) && isNetworkEventType(e.type);
  }

  async apply(recorded: RecordedEvent, tx: ProjectionTx): Promise<void> {
    const id = networkIdOf(recorded.streamId);
    if (!id || !isNetworkEventType(recorded.type)) return;
    const e = upcast(recorded);
    const prev = await tx.get<NetworkRecord>(this.keys.network(id));
    const state = evolveNetwork(prev?.state ?? initialNetworkState(), { type: e.type, data: e.data } as NetworkEvent);
    tx.set(this.keys.network(id), {
      state,
      revision: e.revision.toString(),
      createdAt: prev?.createdAt ?? e.metadata.at,
      updatedAt: e.metadata.at,
    } satisfies NetworkRecord);
    if (!prev) tx.index(this.keys.networkIndex(), Number(e.position), id);
  }
}
