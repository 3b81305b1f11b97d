import type { Logger } from 'pino';
import { DomainError } from '../domain/domain-error.js';
import type { Resources } from '../domain/host/host.events.js';
import { allocatedVmIds } from '../domain/host/allocations.js';
import { hostDecider } from '../domain/host/host.decider.js';
import { hostStream, vmStream } from '../domain/streams.js';
import { vmDecider } from '../domain/vm/vm.decider.js';
import { derivedOperationId } from '../sagas/healing.saga.js';
import { handleCommand, type CommandMeta } from './handle-command.js';
import type { AggregateLoader } from './load-aggregate.js';
import type { HostDirectory } from './placement.js';
import { planRecovery } from './recovery-plan.js';

/** What happened to each VM of a fenced host (for logs and tests). */
export interface FenceOutcome {
  recovered: { vmId: string; targetHostId: string; operationId: string }[];
  lost: { vmId: string; reason: string }[];
  skipped: { vmId: string; why: string }[];
}

/**
 * Acts on HostFenced: only while the host is still fenced by that very fence (never for a host
 * heard again), each VM it holds is planned (planRecovery), the target's capacity reserved on its
 * own stream, then RecoverVm appended on the VM's stream, which the VM decider accepts once per
 * fence. A replay after a crash finds each VM recovered already and does nothing twice.
 */
export async function recoverFencedHost(
  aggregates: AggregateLoader,
  directory: HostDirectory,
  hostId: string,
  fenceId: string,
  meta: CommandMeta,
  log: Logger,
): Promise<FenceOutcome> {
  const out: FenceOutcome = { recovered: [], lost: [], skipped: [] };
  const { state: fenced } = await aggregates.load(hostDecider, hostStream(hostId));
  if (fenced.fenced?.fenceId !== fenceId) return out;
  let hosts = await Promise.all(
    (await directory.list()).map(async (id) => (await aggregates.load(hostDecider, hostStream(id))).state),
  );
  const planned = new Map<string, Resources>();
  for (const vmId of allocatedVmIds(fenced.allocations)) {
    const { state: vm } = await aggregates.load(vmDecider, vmStream(vmId));
    const m = vm.migration;
    if (m?.handedOff && m.targetHostId === hostId && m.sourceHostId !== hostId) {
      // Handed off to the fenced host: the guest ran there, the source's copy is gone. The
      // source's reservation goes now (once the migration is closed nothing would give it back),
      // so the source is a recovery target like any other; a replay finds the migration closed.
      await handleCommand(
        aggregates,
        hostDecider,
        hostStream(m.sourceHostId),
        { type: 'ReleaseCapacity', vmId, operationId: vm.pending?.id ?? fenceId },
        meta,
      );
      const source = (await aggregates.load(hostDecider, hostStream(m.sourceHostId))).state;
      hosts = hosts.map((h) => (h.id === m.sourceHostId ? source : h));
    } else if (vm.hostId !== hostId && m?.targetHostId === hostId) {
      // Migrating towards the fenced host: that migration cannot finish; the decider fails it (not handed off).
      const reason = `target host ${hostId} fenced`;
      await handleCommand(
        aggregates,
        vmDecider,
        vmStream(vmId),
        { type: 'MarkLostWithHost', fenceId, hostId, reason },
        meta,
      );
      out.skipped.push({ vmId, why: `its migration to the fenced host was failed` });
      continue;
    }
    const plan = planRecovery(vm, fenced, hosts, planned);
    if (plan.kind === 'skip') {
      out.skipped.push({ vmId, why: plan.why });
      continue;
    }
    if (plan.kind === 'lost') {
      await handleCommand(
        aggregates,
        vmDecider,
        vmStream(vmId),
        { type: 'MarkLostWithHost', fenceId, hostId, reason: plan.reason },
        meta,
      );
      out.lost.push({ vmId, reason: plan.reason });
      continue;
    }
    const operationId = derivedOperationId(`recover:${fenceId}:${vmId}`);
    const size = { vcpus: vm.spec?.vcpus ?? 0, memoryMiB: vm.spec?.memoryMiB ?? 0 };
    try {
      await handleCommand(
        aggregates,
        hostDecider,
        hostStream(plan.targetHostId),
        { type: 'ReserveCapacity', vmId, operationId, ...size },
        meta,
      );
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const reason = `host ${hostId} was fenced; the host chosen to recover it refused: ${err.message}`;
      await handleCommand(
        aggregates,
        vmDecider,
        vmStream(vmId),
        { type: 'MarkLostWithHost', fenceId, hostId, reason },
        meta,
      );
      out.lost.push({ vmId, reason });
      continue;
    }
    const result = await handleCommand(
      aggregates,
      vmDecider,
      vmStream(vmId),
      {
        type: 'RecoverVm',
        operationId,
        fenceId,
        fromHostId: hostId,
        targetHostId: plan.targetHostId,
        evidence: plan.evidence,
      },
      meta,
    );
    if (result.events.length === 0) {
      // Decided already (a replay) or the VM moved on meanwhile: the reservation just made is not the VM's to keep.
      const { state: now } = await aggregates.load(vmDecider, vmStream(vmId));
      if (now.hostId !== plan.targetHostId) {
        await handleCommand(
          aggregates,
          hostDecider,
          hostStream(plan.targetHostId),
          { type: 'ReleaseCapacity', vmId, operationId },
          meta,
        );
      }
      out.skipped.push({ vmId, why: 'recovered already, or moved on' });
      continue;
    }
    out.recovered.push({ vmId, targetHostId: plan.targetHostId, operationId });
  }
  log.warn({ host: hostId, fenceId, ...out }, 'fenced host: its VMs recovered elsewhere or marked lost');
  return out;
}
