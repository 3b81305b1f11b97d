import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { hostIdOf } from '../domain/streams.js';
import { upcast } from '../domain/upcasters.js';
import { isHostEventType, type HostEvent, type Resources } from '../domain/host/host.events.js';
import { allocationOf, withAllocation } from '../domain/host/allocations.js';
import { evolveHost, initialHostState, usageOf, type HostState } from '../domain/host/host.state.js';
import type { Projection, ProjectionTx } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import type { HostRecord } from './read-model.types.js';

/** A replay's fold reads without a promise (peek); the live transaction reads Redis. */
async function read<T>(tx: ProjectionTx, key: string): Promise<T | undefined> {
  return tx.peek ? tx.peek<T>(key) : tx.get<T>(key);
}

/**
 * One record per host (small: no allocations in it) and one key per VM on it: an event
 * that reserves or releases for one VM rewrites the host's record and that VM's key, never
 * every VM's allocation. The host's state is folded by evolveHost as the decider folds it,
 * on a state that holds only the allocation the event touches (all the event needs).
 */
export class HostsProjection implements Projection {
  readonly name = 'hosts';
  readonly keyPattern = 'host*';

  constructor(private readonly keys: ReadModelKeys) {}

  owns(relativeKey: string): boolean {
    return relativeKey === 'hosts' || relativeKey.startsWith('host:');
  }

  handles(e: Pick<RecordedEvent, 'streamId' | 'type'>): boolean {
    return !!hostIdOf(e.streamId) && isHostEventType(e.type);
  }

  async apply(recorded: RecordedEvent, tx: ProjectionTx): Promise<void> {
    const hostId = hostIdOf(recorded.streamId);
    if (!hostId || !isHostEventType(recorded.type)) return;
    const e = upcast(recorded);
    const event = { type: e.type, data: e.data } as HostEvent;
    const key = this.keys.host(hostId);
    const prev = await read<HostRecord>(tx, key);
    let state: HostState = prev?.state ?? initialHostState();
    let vms = prev?.vms ?? 0;
    if (prev && prev.vms === undefined) ({ state, vms } = this.splitLegacy(hostId, prev.state, tx));
    const vmId =
      event.type === 'HostCapacityReserved' || event.type === 'HostCapacityReleased' ? event.data.vmId : undefined;
    if (vmId !== undefined) {
      const allocKey = this.keys.hostAllocation(hostId, vmId);
      const held = await read<Resources>(tx, allocKey);
      state = evolveHost({ ...state, allocations: withAllocation({}, vmId, held) }, event, e.metadata.at);
      const now = allocationOf(state.allocations, vmId);
      if (now) tx.set(allocKey, now);
      else if (held) tx.del(allocKey);
      vms += (now ? 1 : 0) - (held ? 1 : 0);
    } else state = evolveHost(state, event, e.metadata.at);
    tx.set(key, {
      state: { ...state, allocations: {} },
      revision: e.revision.toString(),
      createdAt: prev?.createdAt ?? e.metadata.at,
      updatedAt: e.metadata.at,
      vms,
    } satisfies HostRecord);
    if (!prev) tx.index(this.keys.hostIndex(), Number(e.position), hostId);
  }

  /**
   * A record written before allocations had their own keys holds them all: they move to their
   * keys once (the live runner goes on from its checkpoint after an upgrade), and the sum they
   * make stays in `used`, so the record reads as a rebuild would write it.
   */
  private splitLegacy(hostId: string, state: HostState, tx: ProjectionTx): { state: HostState; vms: number } {
    // Flat (vmId → resources) as that record held them, not buckets: it was never folded by this code.
    const all = Object.entries(state.allocations as unknown as Record<string, Resources>);
    for (const [vmId, held] of all) tx.set(this.keys.hostAllocation(hostId, vmId), held);
    // The sum is taken here, while the record still has every allocation (evolve sums only what it is given).
    const used = state.used ?? usageOf({ ...state, allocations: {} });
    if (!state.used)
      for (const [, r] of all) {
        used.vcpus += r.vcpus;
        used.memoryMiB += r.memoryMiB;
        used.diskGiB += r.diskGiB ?? 0;
      }
    return { state: { ...state, allocations: {}, used }, vms: all.length };
  }
}
