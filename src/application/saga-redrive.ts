import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { vmDecider } from '../domain/vm/vm.decider.js';
import { vmIdOf, vmStream } from '../domain/streams.js';
import type { AggregateLoader } from './load-aggregate.js';

export interface RedriveTarget {
  vmId: string;
  operationId: string;
  /** The operation's events as stored, in order: handling them again re-issues its awaited job under the same job id. */
  events: RecordedEvent[];
}

/**
 * The operations waiting for a job on a queue, found in the log (not in Redis,
 * which is what was lost). Placement never waits on a queue, so it is left to
 * the checkpointed subscription.
 */
export async function operationsAwaitingJobs(aggregates: AggregateLoader): Promise<RedriveTarget[]> {
  const store = aggregates.store;
  const vmIds = new Set<string>();
  let after: bigint | undefined;
  for (;;) {
    const page = await store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: 1000 });
    if (!page.length) break;
    for (const e of page) {
      const id = vmIdOf(e.streamId);
      if (id) vmIds.add(id);
    }
    after = page[page.length - 1]!.position;
  }
  const out: RedriveTarget[] = [];
  for (const vmId of vmIds) {
    const { state } = await aggregates.load(vmDecider, vmStream(vmId));
    const p = state.pending;
    if (!p || p.awaiting === 'placement') continue;
    // Only the few VMs with a job outstanding are read in full, for their operation's events.
    const stream = await store.readStream(vmStream(vmId));
    out.push({ vmId, operationId: p.id, events: stream.filter((e) => e.metadata.correlationId === p.id) });
  }
  return out;
}
