import { DomainError } from '../domain/domain-error.js';
import type { EventStore } from '../eventstore/event-store.port.js';
import { hostDecider } from '../domain/host/host.decider.js';
import { free } from '../domain/host/host.state.js';
import { handleCommand, type CommandMeta } from './handle-command.js';
import type { AggregateLoader } from './load-aggregate.js';
import { hostStream, hostIdOf } from '../domain/streams.js';

export interface PlacementRequest {
  vmId: string;
  operationId: string;
  requestedHostId: string | null;
  vcpus: number;
  memoryMiB: number;
}

export type PlacementResult = { ok: true; hostId: string } | { ok: false; reason: string };

/**
 * Registered host ids; each call reads only the part of the log it has not
 * seen yet. Owned by whoever places (the saga runner), not kept at module level.
 */
export class HostDirectory {
  private after: bigint | undefined;
  private readonly ids: string[] = [];

  constructor(private readonly store: EventStore) {}

  async list(): Promise<string[]> {
    // Everything up to the head read now is covered by the reads below, matching or not: skip it next time.
    const head = await this.store.headPosition();
    for (;;) {
      const page = await this.store.readAll({
        ...(this.after !== undefined ? { after: this.after } : {}),
        types: ['HostRegistered'],
        streamPrefixes: ['host-'],
        maxCount: 1000,
      });
      if (page.length === 0) break;
      for (const e of page) {
        const id = hostIdOf(e.streamId);
        if (id && !this.ids.includes(id)) this.ids.push(id);
      }
      this.after = page[page.length - 1]!.position;
      if (page.length < 1000) break;
    }
    if (head !== undefined && (this.after === undefined || head > this.after)) this.after = head;
    return [...this.ids];
  }
}

/**
 * Reserves capacity on one host's own stream. Candidates are tried in order of
 * free memory; the host decider (optimistic concurrency on the host stream)
 * is what makes concurrent creates unable to over-commit.
 */
export async function placeVm(
  aggregates: AggregateLoader,
  hosts: HostDirectory,
  req: PlacementRequest,
  meta: CommandMeta,
): Promise<PlacementResult> {
  const ids = req.requestedHostId ? [req.requestedHostId] : await hosts.list();
  if (ids.length === 0) return { ok: false, reason: 'no host is registered; register one with POST /v1/hosts' };
  const loaded = await Promise.all(
    ids.map(async (id) => ({ id, ...(await aggregates.load(hostDecider, hostStream(id))) })),
  );
  const candidates = loaded
    .filter((h) => h.state.exists)
    .sort((a, b) => free(b.state).memoryMiB - free(a.state).memoryMiB);
  if (candidates.length === 0) return { ok: false, reason: `host ${req.requestedHostId} is not registered` };
  const refusals: string[] = [];
  for (const host of candidates) {
    try {
      await handleCommand(
        aggregates,
        hostDecider,
        hostStream(host.id),
        {
          type: 'ReserveCapacity',
          vmId: req.vmId,
          operationId: req.operationId,
          vcpus: req.vcpus,
          memoryMiB: req.memoryMiB,
        },
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
