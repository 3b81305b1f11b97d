import type { Resources } from '../domain/host/host.events.js';
import { free, type HostState } from '../domain/host/host.state.js';
import type { PlacementCandidate, PlacementEvidence } from '../domain/vm/evidence.js';
import { guestHostOf, meantToRun } from '../domain/vm/vm.recovery.js';
import type { VmState } from '../domain/vm/vm.state.js';
import { sameStorage } from './migration-targets.js';

export type RecoveryDecision =
  | { kind: 'recover'; targetHostId: string; evidence: PlacementEvidence }
  | { kind: 'lost'; reason: string; evidence?: PlacementEvidence }
  | { kind: 'skip'; why: string };

const named = (h: HostState) => `${h.name} (${h.id})`;

/** Why a host cannot take a VM recovered from `fenced`, or undefined when it can. */
function refusal(
  h: HostState,
  fenced: HostState,
  needs: Resources,
  planned: Resources,
): PlacementCandidate | undefined {
  const hostId = h.id ?? '';
  const no = (reason: PlacementCandidate['reason'], detail: string): PlacementCandidate => ({
    hostId,
    verdict: 'refused',
    reason,
    detail,
  });
  if (h.driver !== fenced.driver) return no('capability', `runs ${h.driver}, not ${fenced.driver}`);
  if (h.fenced) return no('fenced', `fenced (${h.fenced.fenceId})`);
  if (h.unreachable) return no('unreachable', `no heartbeat since ${h.unreachable.lastHeartbeatAt}`);
  if (h.state !== 'active') return no('draining', h.state);
  // The VM's disk is on the fenced host's storage: only a host that names the same storage dir can boot it.
  if (!sameStorage(fenced.uri, h.uri)) return no('storage', `does not share the storage of ${named(fenced)}`);
  const f = free(h);
  const room = { vcpus: f.vcpus - planned.vcpus, memoryMiB: f.memoryMiB - planned.memoryMiB };
  if (room.vcpus < needs.vcpus || room.memoryMiB < needs.memoryMiB) {
    return no('capacity', `has ${room.vcpus} vCPUs and ${room.memoryMiB} MiB free`);
  }
  return undefined;
}

/**
 * The target of a migration the fenced source never handed off: the migration's compensation
 * aborts the incoming side there and gives its reservation back, which a recovery onto that same
 * host would race (the abort could hit the recovered VM, the release take its reservation).
 */
function midMigration(vm: VmState, h: HostState): PlacementCandidate | undefined {
  const m = vm.migration;
  if (!m || m.handedOff || m.targetHostId !== h.id) return undefined;
  return {
    hostId: h.id,
    verdict: 'refused',
    reason: 'migration',
    detail: 'the target of its unfinished migration, being cleaned up',
  };
}

/**
 * Pure: what happens to one VM of a fenced host. Recovered (re-placed on a host sharing the
 * fenced host's storage, most free memory first) when its restartPolicy asks for it; otherwise
 * lost, with why. A VM no longer on the host, or that was not meant to run, is left alone.
 * `planned` is what earlier VMs of the same fence already claimed per host.
 */
export function planRecovery(
  vm: VmState,
  fenced: HostState,
  hosts: HostState[],
  planned: Map<string, Resources> = new Map(),
): RecoveryDecision {
  if (!vm.exists || guestHostOf(vm) !== fenced.id) {
    const handedOff = vm.migration?.handedOff && vm.hostId === fenced.id;
    return {
      kind: 'skip',
      why: handedOff ? 'handed off to its migration target, which finishes it' : 'not on the fenced host',
    };
  }
  if (!meantToRun(vm)) return { kind: 'skip', why: `${vm.state}: it was not meant to run` };
  const fence = fenced.fenced;
  const head = `host ${named(fenced)} was fenced${fence ? ` by ${fence.by}` : ''}`;
  if ((vm.restartPolicy ?? 'never') === 'never') {
    return { kind: 'lost', reason: `${head}; restartPolicy is never, so it is not moved (start or delete it)` };
  }
  const needs = { vcpus: vm.spec?.vcpus ?? 0, memoryMiB: vm.spec?.memoryMiB ?? 0 };
  const candidates: PlacementCandidate[] = [];
  const fits: { host: HostState; room: number }[] = [];
  for (const h of hosts) {
    if (!h.exists || h.removed || !h.id || h.id === fenced.id) continue;
    const p = planned.get(h.id) ?? { vcpus: 0, memoryMiB: 0 };
    const no = refusal(h, fenced, needs, p) ?? midMigration(vm, h);
    if (no) candidates.push(no);
    else fits.push({ host: h, room: free(h).memoryMiB - p.memoryMiB });
  }
  fits.sort((a, b) => b.room - a.room || (a.host.id ?? '').localeCompare(b.host.id ?? ''));
  const chosen = fits[0]?.host;
  for (const f of fits) {
    if (f.host !== chosen) candidates.push({ hostId: f.host.id ?? '', verdict: 'refused', reason: 'ranking' });
  }
  if (!chosen?.id) {
    const shared = candidates.some((c) => c.reason !== 'storage' && c.reason !== 'capability');
    const evidence: PlacementEvidence = { kind: 'placement', candidates };
    return {
      kind: 'lost',
      evidence,
      reason: shared
        ? `${head}; no host sharing its storage can take it now: ${candidates.map((c) => `${c.hostId} ${c.detail ?? c.reason}`).join('; ')}`
        : `${head}; its disk is on that host's own storage and no other host shares it: needs attention`,
    };
  }
  const p = planned.get(chosen.id) ?? { vcpus: 0, memoryMiB: 0 };
  planned.set(chosen.id, { vcpus: p.vcpus + needs.vcpus, memoryMiB: p.memoryMiB + needs.memoryMiB });
  return {
    kind: 'recover',
    targetHostId: chosen.id,
    evidence: { kind: 'placement', candidates: [{ hostId: chosen.id, verdict: 'chosen' }, ...candidates] },
  };
}
