import type { ReadModels } from '../projections/read-models.js';
import type { VmRecord } from '../projections/read-model.types.js';
import type { ExpectedVm, ExpectedVms } from '../workers/expected-vms.port.js';

/** A VM record as the reconciler sees it; none for a VM not (or no longer) on this host. */
function expected(rec: VmRecord | undefined, hostId: string): ExpectedVm | undefined {
  const s = rec?.state;
  if (!rec || !s || s.hostId !== hostId || s.state === 'deleted') return undefined;
  // A VM with neither id nor spec was never created: nothing a driver could run.
  if (!s.id || !s.spec) return undefined;
  return {
    id: s.id,
    spec: s.spec,
    state: s.state,
    pendingOperationId: s.pending?.id ?? null,
    migrationTargetHostId: s.migration?.targetHostId ?? null,
    updatedAt: rec.updatedAt,
    revision: rec.revision,
  };
}

/** The read models, seen through the reconciler's port (paged: a host may run thousands of VMs). */
export function expectedVmsFromReadModels(readModels: ReadModels): ExpectedVms {
  return {
    async onHost(hostId) {
      // The host's live index when the read model has one: a sweep reads the VMs there now, not every VM ever created.
      const live = await readModels.liveVmsOnHost(hostId);
      if (live) return live.map((r) => expected(r, hostId)).filter((vm): vm is ExpectedVm => vm !== undefined);
      const out: ExpectedVm[] = [];
      for (let cursor = 0; ;) {
        const page = await readModels.listVms(cursor, 500);
        for (const rec of page.items) {
          const vm = expected(rec, hostId);
          if (vm) out.push(vm);
        }
        if (!page.next) return out;
        cursor = Number(page.next);
      }
    },
    async one(hostId, vmId) {
      return expected(await readModels.getVm(vmId), hostId);
    },
    async placedElsewhere(hostId, vmId) {
      const s = (await readModels.getVm(vmId))?.state;
      if (!s?.id || s.state === 'deleted') return false;
      return (s.hostId !== null && s.hostId !== hostId) || s.migration?.targetHostId === hostId;
    },
    async staleCopy(hostId, vmId) {
      const s = (await readModels.getVm(vmId))?.state;
      if (!s?.id || !s.spec || s.state === 'deleted' || !s.recoveredFences?.length) return undefined;
      if (s.hostId === null || s.hostId === hostId) return undefined;
      if (s.migration && (s.migration.sourceHostId === hostId || s.migration.targetHostId === hostId)) return undefined;
      return s.spec;
    },
  };
}
