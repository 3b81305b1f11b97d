import type { PlacementCandidate, RefusalReason } from '../vm/evidence.js';

/** How placement orders the hosts that can take a VM. */
export type PlacementStrategy = 'spread' | 'pack';
export const PLACEMENT_STRATEGIES: readonly PlacementStrategy[] = ['spread', 'pack'];

export type GroupPolicyName = 'affinity' | 'anti-affinity';

/** What ranking needs of a host (built from HostState by the caller: the domain keeps no store). */
export interface RankedHost {
  id: string;
  name: string;
  driver: string;
  state: 'active' | 'draining';
  unreachable: boolean;
  /** Fenced (its VMs recovered elsewhere): takes nothing until heard again. Absent: not fenced. */
  fenced?: boolean;
  labels: Record<string, string>;
  free: { vcpus: number; memoryMiB: number };
}

/** A placement group as ranking sees it: where its other members are now, by host id. */
export interface GroupPolicy {
  name: string;
  policy: GroupPolicyName;
  strict: boolean;
  /** hostId → names of the members on it (the VM being placed is not among them). */
  members: Record<string, string[]>;
}

export interface RankRequest {
  vcpus: number;
  memoryMiB: number;
  hostSelector?: Record<string, string>;
  strategy?: PlacementStrategy;
  group?: GroupPolicy;
  /** The host a migrating VM leaves: never a target. */
  excludeHostId?: string;
  /** A migration stays within one driver. */
  driver?: string;
}

/** One host that was not a candidate, and why in a few words (`memory 512 < 1024`, `label zone=b != a`). */
export interface HostRefusal {
  id: string;
  name: string;
  reason: string;
  /** The evidence's category of the reason. */
  kind: RefusalReason;
}

export interface Ranking {
  /** Hosts that can take the VM, best first (the group's preference, then the strategy). */
  eligible: { id: string; name: string; free: { vcpus: number; memoryMiB: number }; preferred: boolean }[];
  refused: HostRefusal[];
}

function selectorMismatch(labels: Record<string, string>, selector: Record<string, string>): string | undefined {
  for (const [k, want] of Object.entries(selector)) {
    const have = labels[k];
    if (have !== want) return `label ${k}=${have ?? '(none)'} != ${want}`;
  }
  return undefined;
}

/** Whether placing on `hostId` keeps the group's policy; the reason when it does not. */
function groupConflict(group: GroupPolicy, hostId: string): string | undefined {
  const here = group.members[hostId] ?? [];
  if (group.policy === 'anti-affinity') return here.length ? `anti-affinity: runs ${here.join(', ')}` : undefined;
  const elsewhere = Object.entries(group.members).filter(([h, names]) => h !== hostId && names.length > 0);
  if (elsewhere.length === 0 || here.length > 0) return undefined;
  return `affinity: group ${group.name} runs on ${elsewhere.map(([h]) => h).join(', ')}`;
}

/**
 * Which hosts can take a VM and in which order, with a reason for every other host. Pure:
 * the same inputs give the same answer, so the API can refuse up front with the very
 * reasons placement would record. Hard group rules and the selector exclude a host;
 * a soft group rule only orders (a host that keeps it comes first).
 */
export function rankHosts(hosts: RankedHost[], req: RankRequest): Ranking {
  const refused: HostRefusal[] = [];
  const eligible: Ranking['eligible'] = [];
  const refuse = (h: RankedHost, kind: RefusalReason, reason: string) =>
    refused.push({ id: h.id, name: h.name, reason, kind });
  for (const h of hosts) {
    if (h.id === req.excludeHostId) {
      refuse(h, 'ranking', 'the VM is leaving it');
      continue;
    }
    if (req.driver && h.driver !== req.driver) {
      refuse(h, 'capability', `driver ${h.driver} != ${req.driver}`);
      continue;
    }
    if (h.fenced) {
      refuse(h, 'fenced', 'fenced');
      continue;
    }
    if (h.unreachable) {
      refuse(h, 'unreachable', 'unreachable');
      continue;
    }
    if (h.state !== 'active') {
      refuse(h, 'draining', h.state);
      continue;
    }
    const mismatch = req.hostSelector ? selectorMismatch(h.labels, req.hostSelector) : undefined;
    if (mismatch) {
      refuse(h, 'selector', mismatch);
      continue;
    }
    if (h.free.memoryMiB < req.memoryMiB) {
      refuse(h, 'capacity', `memory ${h.free.memoryMiB} < ${req.memoryMiB}`);
      continue;
    }
    if (h.free.vcpus < req.vcpus) {
      refuse(h, 'capacity', `vcpus ${h.free.vcpus} < ${req.vcpus}`);
      continue;
    }
    const conflict = req.group ? groupConflict(req.group, h.id) : undefined;
    if (conflict && req.group?.strict) {
      refuse(h, 'affinity', conflict);
      continue;
    }
    eligible.push({ id: h.id, name: h.name, free: h.free, preferred: conflict === undefined });
  }
  const pack = req.strategy === 'pack';
  eligible.sort(
    (a, b) =>
      Number(b.preferred) - Number(a.preferred) ||
      (pack ? a.free.memoryMiB - b.free.memoryMiB : b.free.memoryMiB - a.free.memoryMiB) ||
      (pack ? a.free.vcpus - b.free.vcpus : b.free.vcpus - a.free.vcpus) ||
      a.id.localeCompare(b.id),
  );
  return { eligible, refused };
}

/** The one-line summary a refusal's message carries (the body's `details.hosts` has them one by one). */
export function describeRefusals(refused: HostRefusal[]): string {
  if (refused.length === 0) return 'no host is registered';
  return refused.map((r) => `${r.name} (${r.id}): ${r.reason}`).join('; ');
}

/** The evidence a placement records: the chosen host, why each other eligible one ranked lower, every refusal. */
export function rankingEvidence(ranking: Ranking, chosenId: string, req: RankRequest): PlacementCandidate[] {
  const out: PlacementCandidate[] = [];
  const strategy = req.strategy ?? 'spread';
  for (const e of ranking.eligible) {
    if (e.id === chosenId) {
      const soft =
        req.group && !e.preferred
          ? `; soft ${req.group.policy} of group ${req.group.name} broken: no host that keeps it could take the VM`
          : '';
      out.push({
        hostId: e.id,
        verdict: 'chosen',
        detail: `${e.free.memoryMiB} MiB and ${e.free.vcpus} vCPUs free, ${strategy === 'pack' ? 'the fullest' : 'the most free'} of the hosts that can take it${soft}`,
      });
    } else {
      out.push({
        hostId: e.id,
        verdict: 'refused',
        reason: 'ranking',
        detail: `${e.free.memoryMiB} MiB free; ${strategy} chose ${chosenId}${e.preferred ? '' : ' (and it breaks the group rule)'}`,
      });
    }
  }
  for (const r of ranking.refused) out.push({ hostId: r.id, verdict: 'refused', reason: r.kind, detail: r.reason });
  return out;
}
