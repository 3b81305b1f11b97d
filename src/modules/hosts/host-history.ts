import { NotFoundException } from '@nestjs/common';
import { hostStream } from '../../domain/streams.js';
import { upcast } from '../../domain/upcasters.js';
import { StreamNotFoundError } from '../../eventstore/errors.js';
import type { EventStore, RecordedEvent } from '../../eventstore/event-store.port.js';
import { countAt, describePoint, type PointInTime } from '../../http/point-in-time.js';
import { isHostEventType, type HostCapabilities, type HostEvent } from '../../domain/host/host.events.js';
import { evolveHost, initialHostState, type HostState } from '../../domain/host/host.state.js';
import { toHostView, type HostView } from './host.view.js';

/**
 * A host as it was at a point of its history: its stream folded with the host
 * decider's own evolve up to that revision or instant (capacity, drain state,
 * and which VMs held what).
 */
export async function hostViewAt(
  store: EventStore,
  hostId: string,
  point: PointInTime,
  capabilitiesOf: (state: HostState) => HostCapabilities | null,
): Promise<HostView> {
  let all: RecordedEvent[];
  try {
    all = await store.readStream(hostStream(hostId));
  } catch (err) {
    if (err instanceof StreamNotFoundError) throw new NotFoundException(`host ${hostId} not found`);
    throw err;
  }
  if (all.length === 0) throw new NotFoundException(`host ${hostId} not found`);
  const last = all[all.length - 1]!;
  if (point.kind === 'revision' && point.revision > last.revision)
    throw new NotFoundException(
      `host ${hostId} has no revision ${point.revision}: its latest revision is ${last.revision}`,
    );
  const events = all.slice(0, countAt(all, point)).map(upcast);
  if (events.length === 0)
    throw new NotFoundException(
      `host ${hostId} did not exist yet at ${describePoint(point)}: it was registered at ${all[0]!.metadata.at}`,
    );
  const state = events.reduce(
    (s, e) => (isHostEventType(e.type) ? evolveHost(s, { type: e.type, data: e.data } as HostEvent, e.metadata.at) : s),
    initialHostState(),
  );
  const upTo = events[events.length - 1]!;
  return toHostView(state, capabilitiesOf(state), upTo.revision, all[0]!.metadata.at, upTo.metadata.at);
}
