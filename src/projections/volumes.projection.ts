import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { volumeIdOf } from '../domain/streams.js';
import { upcast } from '../domain/upcasters.js';
import { isVolumeEventType, type VolumeEvent } from '../domain/volume/volume.events.js';
import { evolveVolume, initialVolumeState } from '../domain/volume/volume.state.js';
import type { Projection, ProjectionTx } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import type { VolumeRecord } from './read-model.types.js';

/** Volumes as GET /v1/volumes shows them: the decider's own state, deleted ones kept (status deleted). */
export class VolumesProjection implements Projection {
  readonly name = 'volumes';
  readonly keyPattern = 'volume*';

  constructor(private readonly keys: ReadModelKeys) {}

  owns(relativeKey: string): boolean {
    return relativeKey === 'volumes' || relativeKey.startsWith('volume:');
  }

  handles(e: Pick<RecordedEvent, 'streamId' | 'type'>): boolean {
    return !!volumeIdOf(e.streamId) && isVolumeEventType(e.type);
  }

  async apply(recorded: RecordedEvent, tx: ProjectionTx): Promise<void> {
    const id = volumeIdOf(recorded.streamId);
    if (!id || !isVolumeEventType(recorded.type)) return;
    const e = upcast(recorded);
    const prev = await tx.get<VolumeRecord>(this.keys.volume(id));
    const state = evolveVolume(prev?.state ?? initialVolumeState(), { type: e.type, data: e.data } as VolumeEvent);
    tx.set(this.keys.volume(id), {
      state,
      revision: e.revision.toString(),
      createdAt: prev?.createdAt ?? e.metadata.at,
      updatedAt: e.metadata.at,
    } satisfies VolumeRecord);
    if (!prev) tx.index(this.keys.volumeIndex(), Number(e.position), id);
  }
}
