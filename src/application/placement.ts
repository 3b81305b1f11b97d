import { DomainError } from '../domain/domain-error.js';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port.js';
import { hostDecider } from '../domain/host/host.decider.js';
import { free, type HostState } from '../domain/host/host.state.js';
import type { HostCommand } from '../domain/host/host.commands.js';
import type { PlacementEvidence, RefusalReason } from '../domain/vm/evidence.js';
import { handleCommand, type CommandMeta, type HandleResult } from './handle-command.js';
import { handleCommandPair } from './handle-command-pair.js';
import type { VmCommand } from '../domain/vm/vm.commands.js';
import { vmDecider } from '../domain/vm/vm.decider.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { AggregateLoader } from './load-aggregate.js';
import { hostStream, hostIdOf, placementGroupStream, vmStream } from '../domain/streams.js';
import type { PlacementStrategy } from '../domain/placement/host-ranking.js';
import { placementGroupDecider } from '../domain/placement-group/placement-group.decider.js';

export interface PlacementRequest {
  vmId: string;
  operationId: string;
  requestedHostId: string | null;
  vcpus: number;
  memoryMiB: number;
  /** Only hosts whose labels match are candidates. */
  hostSelector?: Record<string, string>;
  /** spread (default): most free memory first; pack: the fullest host that fits. */
  strategy?: PlacementStrategy;
  placementGroupId?: string;
  /** The VM's disk: counted against hosts that declare a disk capacity (others: unlimited). */
  diskGiB?: number;
}

export type PlacementResult =
  /** `vm`: the VM's `PlaceVm`, decided and appended with the reservation (asked with recordPlacement). */
  | { ok: true; hostId: string; evidence: PlacementEvidence; vm?: HandleResult<VmState> }
  | { ok: false; reason: string; evidence: PlacementEvidence };

/**
 * Registered host ids; each call reads only the part of the log it has not
 * seen yet. Owned by whoever places (the saga runner), not kept at module level.
 * The runner also hands over each page of the log it reads (observe): a placement
 * for an event already covered then asks the store nothing (it used to cost a
 * head read and a filtered log read per create).
 */
export class HostDirectory {
  /** Every HostRegistered up to this position (inclusive) is in `ids`. */
  private after: bigint | undefined;
  /** list() has read the log once: `after` undefined then means an empty log, not "nothing read". */
  private read = false;
  private readonly ids: string[] = [];

  constructor(private readonly store: EventStore) {}

  /**
   * A page of the log, in order, from just after `from` (undefined: the log's start). Taken only
   * when it joins what is known already: an event between the two would be a host missed.
   */
  observe(from: bigint | undefined, page: readonly RecordedEvent[]): void {
    const last = page[page.length - 1];
    if (!last || !this.read) return;
    if (from !== undefined && (this.after === undefined || from > this.after)) return;
    for (const e of page) if (e.type === 'HostRegistered') this.add(e.streamId);
    if (this.after === undefined || last.position > this.after) this.after = last.position;
  }

  /**
   * `through`: the position of the event being placed for. Every host registered before it is
   * listed; when the pages observed cover it already, without a store read. Without it (or not
   * covered), the log is read up to its head, as before.
   */
  async list(through?: bigint): Promise<string[]> {
    if (through !== undefined && this.after !== undefined && this.after >= through) return [...this.ids];
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
      for (const e of page) this.add(e.streamId);
      this.after = page[page.length - 1]!.position;
      if (page.length < 1000) break;
    }
    if (head !== undefined && (this.after === undefined || head > this.after)) this.after = head;
    this.read = true;
    return [...this.ids];
  }

  private add(streamId: string): void {
    const id = hostIdOf(streamId);
    if (id && !this.ids.includes(id)) this.ids.push(id);
  }
}

/** The host decider's refusal, as placement evidence names it. */
function refusalOf(err: DomainError, host: HostState): RefusalReason {
  if (err.code === 'not_found') return 'not-registered';
  const code: string = err.code;
  if (host.unreachable) return 'unreachable';
  if (code === 'draining' || host.state !== 'active') return 'draining';
  return 'capacity';
}

/**
 * Reserves capacity on one host's own stream. Candidates are tried in order of
 * free memory; the host decider (optimistic concurrency on the host stream)
 * is what makes concurrent creates unable to over-commit. Every host considered
 * is in the result's evidence: the chosen one, and why each other was not.
 */
export async function placeVm(
  aggregates: AggregateLoader,
  hosts: HostDirectory,
  req: PlacementRequest,
  meta: CommandMeta,
  /** Position of the event placed for (see HostDirectory.list). */
  through?: bigint,
  /** Record the VM's `PlaceVm` with the reservation (see reserveOn); the result's `vm` is then its outcome. */
  recordPlacement = false,
): Promise<PlacementResult> {
  const ids = req.requestedHostId ? [req.requestedHostId] : await hosts.list(through);
  const evidence: PlacementEvidence = { kind: 'placement', candidates: [] };
  if (ids.length === 0)
    return { ok: false, reason: 'no host is registered; register one with POST /v1/hosts', evidence };
  // A guess (the cached states, no store read where the cache is decided on): the host's own decider
  // on its stream, below, is what reserves, and a refusal there moves on to the next candidate.
  const loaded = await Promise.all(
    ids.map(async (id) => ({ id, state: await aggregates.loadToGuess(hostDecider, hostStream(id)) })),
  );
  const refused = (hostId: string, reason: RefusalReason, detail: string) =>
    evidence.candidates.push({ hostId, verdict: 'refused', reason, detail });
  for (const h of loaded.filter((h) => !h.state.exists))
    refused(h.id, 'not-registered', `host ${h.id} is not registered`);
  const selector = req.hostSelector ?? {};
  const mismatch = (labels: Record<string, string>) => Object.entries(selector).find(([k, v]) => labels[k] !== v);
  for (const h of loaded.filter((h) => h.state.exists && mismatch(h.state.labels))) {
    const [k, v] = mismatch(h.state.labels)!;
    refused(h.id, 'selector', `label ${k}=${h.state.labels[k] ?? '(none)'} != ${v}`);
  }
  const pack = req.strategy === 'pack';
  const candidates = loaded
    .filter((h) => h.state.exists && !mismatch(h.state.labels))
    .sort((a, b) => (pack ? -1 : 1) * (free(b.state).memoryMiB - free(a.state).memoryMiB));
  if (candidates.length === 0) {
    const why = evidence.candidates.map((c) => `${c.hostId}: ${c.detail ?? c.reason}`).join('; ');
    return {
      ok: false,
      reason:
        req.requestedHostId && !loaded[0]?.state.exists
          ? `host ${req.requestedHostId} is not registered`
          : `no host matches the hostSelector: ${why}`,
      evidence,
    };
  }
  const refusals: string[] = [];
  for (const [i, host] of candidates.entries()) {
    // The evidence as it will be recorded if this host takes the VM: why each later candidate was
    // not chosen is asked of the decider (pure) on the states read above, before the append.
    const chosenEntry = {
      hostId: host.id,
      verdict: 'chosen' as const,
      detail: `${free(host.state).memoryMiB} MiB and ${free(host.state).vcpus} vCPUs free, the ${pack ? 'least (pack)' : 'most'} of the hosts that can take it`,
    };
    const others = candidates.slice(i + 1).map((other) => besideChosen(req, other, host.id, pack));
    const ifChosen = await groupEvidence(aggregates, req, host.id, {
      kind: 'placement',
      candidates: [...evidence.candidates, chosenEntry, ...others],
    });
    const reserved = await reserveOn(aggregates, req, host.id, ifChosen, meta, recordPlacement);
    if (reserved.ok)
      return { ok: true, hostId: host.id, evidence: ifChosen, ...(reserved.vm ? { vm: reserved.vm } : {}) };
    const err = reserved.error;
    if (err instanceof DomainError && (err.code === 'capacity' || err.code === 'not_found')) {
      refusals.push(err.message);
      refused(host.id, refusalOf(err, (await aggregates.load(hostDecider, hostStream(host.id))).state), err.message);
      continue;
    }
    throw err;
  }
  return {
    ok: false,
    // Each refusal says what was short (vCPUs and memory, or disk on a host that counts it).
    reason: `no host can take ${req.vcpus} vCPUs and ${req.memoryMiB} MiB: ${refusals.join('; ')}`,
    evidence,
  };
}

/** Why a candidate after the chosen one was not chosen: it could have taken the VM (ranking), or not. */
function besideChosen(
  req: PlacementRequest,
  other: { id: string; state: HostState },
  chosen: string,
  pack: boolean,
): PlacementEvidence['candidates'][number] {
  try {
    hostDecider.decide(reserve(req), other.state);
    const than = pack ? 'more than' : 'less than';
    const detail = `${free(other.state).memoryMiB} MiB free, ${than} the chosen host ${chosen}`;
    return { hostId: other.id, verdict: 'refused', reason: 'ranking', detail };
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return { hostId: other.id, verdict: 'refused', reason: refusalOf(err, other.state), detail: err.message };
  }
}

/**
 * The reservation on the host's stream and, when asked (`recordPlacement`), the VM's `PlaceVm`
 * with it: one commit where the store appends several streams at once (handleCommandPair),
 * so a create's reservation and `VmPlaced` cost one fsync, not two in a row, and a VM no longer
 * awaiting its placement (cancelled meanwhile) gets no reservation. A refusal is returned, not thrown.
 */
async function reserveOn(
  aggregates: AggregateLoader,
  req: PlacementRequest,
  hostId: string,
  evidence: PlacementEvidence,
  meta: CommandMeta,
  recordPlacement: boolean,
): Promise<{ ok: true; vm?: HandleResult<VmState> } | { ok: false; error: unknown }> {
  if (!recordPlacement) {
    try {
      await handleCommand(aggregates, hostDecider, hostStream(hostId), reserve(req), meta);
      return { ok: true };
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      return { ok: false, error };
    }
  }
  const outcome = await handleCommandPair(
    aggregates,
    { decider: hostDecider, streamId: hostStream(hostId), command: reserve(req) },
    {
      decider: vmDecider,
      streamId: vmStream(req.vmId),
      command: { type: 'PlaceVm', operationId: req.operationId, hostId, evidence } satisfies VmCommand,
    },
    meta,
  );
  if (outcome.ok) return { ok: true, vm: outcome.second };
  // The VM's own refusal is not the host's: thrown, as the VM's command alone would have.
  if (outcome.refused === 'second') throw outcome.error;
  return { ok: false, error: outcome.error };
}

/**
 * A group member was pinned to the host its admission chose: what that admission weighed (every
 * host, the group rule, a soft rule broken) is the placement's evidence, not the one pinned host.
 */
async function groupEvidence(
  aggregates: AggregateLoader,
  req: PlacementRequest,
  chosen: string,
  evidence: PlacementEvidence,
): Promise<PlacementEvidence> {
  if (!req.placementGroupId) return evidence;
  const { state } = await aggregates.load(placementGroupDecider, placementGroupStream(req.placementGroupId));
  const admitted = state.members[req.vmId];
  if (!admitted || admitted.hostId !== chosen || admitted.candidates.length === 0) return evidence;
  return { kind: 'placement', candidates: admitted.candidates };
}

function reserve(req: PlacementRequest): HostCommand {
  return {
    type: 'ReserveCapacity',
    vmId: req.vmId,
    operationId: req.operationId,
    vcpus: req.vcpus,
    memoryMiB: req.memoryMiB,
    ...(req.diskGiB !== undefined ? { diskGiB: req.diskGiB } : {}),
  };
}
