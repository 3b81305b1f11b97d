import { DomainError } from '../domain/domain-error.js';
import { volumeStream } from '../domain/streams.js';
import type { VmVolumeSpecs } from './volume-drivers.js';
import { volumeDecider } from '../domain/volume/volume.decider.js';
import type { VolumeState } from '../domain/volume/volume.state.js';
import { handleCommand, type CommandMeta } from './handle-command.js';
import type { AggregateLoader } from './load-aggregate.js';

/** A volume as the caller may see it: another project's reads as a missing one. */
export async function visibleVolume(
  aggregates: AggregateLoader,
  volumeId: string,
  mayUse: (project: string) => boolean,
): Promise<VolumeState> {
  const { state } = await aggregates.load(volumeDecider, volumeStream(volumeId));
  if (!state.exists || state.status === 'deleted' || !mayUse(state.project)) {
    throw new DomainError('not_found', `volume ${volumeId} not found`, { field: 'volumeId' });
  }
  return state;
}

/**
 * The volumes a VM is created with, claimed before the VM's create is recorded: all on one
 * host (the VM's), of the VM's project, free. Every check runs before the first claim, so a
 * refusal appends nothing; a claim that loses a race releases the ones made before it.
 */
export async function claimForCreate(
  aggregates: AggregateLoader,
  req: { volumeIds: string[]; vmId: string; operationId: string; project: string; hostId: string | null },
  mayUse: (project: string) => boolean,
  meta: CommandMeta,
): Promise<VmVolumeSpecs> {
  const ids = [...new Set(req.volumeIds)];
  if (ids.length !== req.volumeIds.length) throw new DomainError('invalid', 'volumes: a volume is named twice');
  const states = await Promise.all(ids.map((id) => visibleVolume(aggregates, id, mayUse)));
  const hosts = [...new Set(states.map((s) => s.hostId ?? ''))];
  if (hosts.length > 1) {
    throw new DomainError(
      'conflict',
      `volumes: the volumes are on different hosts (${states.map((s) => `${s.id} on ${s.hostId}`).join(', ')}); ` +
        'a VM can use volumes of its own host only',
    );
  }
  const hostId = hosts[0] ?? req.hostId;
  for (const s of states) {
    if (s.project !== req.project) {
      throw new DomainError(
        'conflict',
        `volumes: volume ${s.id} belongs to project ${s.project}, the VM to ${req.project}`,
      );
    }
    // The decider's own refusals (attached elsewhere, busy, host mismatch), asked before anything is appended.
    volumeDecider.decide(claim(req, req.hostId), s);
  }
  const claimed: string[] = [];
  try {
    for (const id of ids) {
      await handleCommand(aggregates, volumeDecider, volumeStream(id), claim(req, req.hostId), meta);
      claimed.push(id);
    }
  } catch (err) {
    await releaseClaims(aggregates, claimed, req.vmId, req.operationId, 'the create was refused', meta);
    throw err;
  }
  return {
    hostId: hostId ?? null,
    volumes: states.map((s) => ({ volumeId: s.id ?? '', name: s.name, sizeGiB: s.sizeGiB })),
  };
}

function claim(req: { vmId: string; operationId: string }, vmHostId: string | null) {
  return { type: 'ClaimVolume' as const, vmId: req.vmId, operationId: req.operationId, vmHostId };
}

export async function releaseClaims(
  aggregates: AggregateLoader,
  volumeIds: string[],
  vmId: string,
  operationId: string,
  reason: string,
  meta: CommandMeta,
): Promise<void> {
  for (const id of volumeIds) {
    await handleCommand(
      aggregates,
      volumeDecider,
      volumeStream(id),
      { type: 'ReleaseVolume', vmId, operationId, reason },
      meta,
    );
  }
}
