import { DomainError } from '../domain/domain-error.js';
import type { EventStore } from '../eventstore/event-store.port.js';
import { hostDecider } from '../modules/hosts/host.decider.js';
import { free } from '../modules/hosts/host.state.js';
import { handleCommand, loadStream, type CommandMeta } from './handle-command.js';
import { hostStream, hostIdOf } from './streams.js';

export interface PlacementRequest {
  vmId: string;
  operationId: string;
  requestedHostId: string | null;
  vcpus: number;
  memoryMiB: number;
}

export type PlacementResult = { ok: true; hostId: string } | { ok: false; reason: string };

export async function listHostIds(store: EventStore): Promise<string[]> {
  const registered = await store.readAll({ types: ['HostRegistered'], streamPrefixes: ['host-'] });
  return registered.map((e) => hostIdOf(e.streamId)).filter((id): id is string => !!id);
}

/**
 * Reserves capacity on one host's own stream. Candidates are tried in order of
 * free memory; the host decider (optimistic concurrency on the host stream)
 * is what makes concurrent creates unable to over-commit.
 */
export async function placeVm(store: EventStore, req: PlacementRequest, meta: CommandMeta): Promise<PlacementResult> {
  const ids = req.requestedHostId ? [req.requestedHostId] : await listHostIds(store);
  if (ids.length === 0) return { ok: false, reason: 'no host is registered; register one with POST /v1/hosts' };
  const hosts = await Promise.all(ids.map(async (id) => ({ id, ...(await loadStream(store, hostDecider, hostStream(id))) })));
  const candidates = hosts
    .filter((h) => h.state.exists)
    .sort((a, b) => free(b.state).memoryMiB - free(a.state).memoryMiB);
  if (candidates.length === 0) return { ok: false, reason: `host ${req.requestedHostId} is not registered` };
  const refusals: string[] = [];
  for (const host of candidates) {
    try {
      await handleCommand(
        store,
        hostDecider,
        hostStream(host.id),
        { type: 'ReserveCapacity', vmId: req.vmId, operationId: req.operationId, vcpus: req.vcpus, memoryMiB: req.memoryMiB },
        meta,
      );
      return { ok: true, hostId: host.id };
    } catch (err) {
      if (err instanceof DomainError && (err.code === 'capacity' || err.code === 'not_found')) {
        refusals.push(err.message);
        continue;
      }
      throw err;
    }
  }
  return {
    ok: false,
    reason: `no host can take ${req.vcpus} vCPUs and ${req.memoryMiB} MiB: ${refusals.join('; ')}`,
  };
}
