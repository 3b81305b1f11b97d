import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { imageNameOf } from '../domain/streams.js';
import { upcast } from '../domain/upcasters.js';
import { isImageEventType, type ImageEvent } from '../domain/image/image.events.js';
import { evolveImage, initialImageState } from '../domain/image/image.state.js';
import type { Projection, ProjectionTx } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import type { ImageRecord } from './read-model.types.js';

/** The image catalog as GET /v1/images shows it: one record per name, deleted ones kept (exists false). */
export class ImagesProjection implements Projection {
  readonly name = 'images';
  readonly keyPattern = 'image*';

  constructor(private readonly keys: ReadModelKeys) {}

  owns(relativeKey: string): boolean {
    return relativeKey === 'images' || relativeKey.startsWith('image:');
  }

  handles(e: Pick<RecordedEvent, 'streamId' | 'type'>): boolean {
    return !!imageNameOf(e.streamId) && isImageEventType(e.type);
  }

  async apply(recorded: RecordedEvent, tx: ProjectionTx): Promise<void> {
    const name = imageNameOf(recorded.streamId);
    if (!name || !isImageEventType(recorded.type)) return;
    const e = upcast(recorded);
    const prev = await tx.get<ImageRecord>(this.keys.image(name));
    const state = evolveImage(prev?.state ?? initialImageState(), { type: e.type, data: e.data } as ImageEvent);
    tx.set(this.keys.image(name), {
      state,
      revision: e.revision.toString(),
      createdAt: prev?.createdAt ?? e.metadata.at,
      updatedAt: e.metadata.at,
    } satisfies ImageRecord);
    if (!prev) tx.index(this.keys.imageIndex(), Number(e.position), name);
  }
}
