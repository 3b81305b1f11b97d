/** What a driver can say of a VM (re-exported by vm.commands.ts, whose commands carry it). */
export type ObservedState = 'running' | 'paused' | 'stopped' | 'crashed' | 'absent';

/** Why placement did not pick a host. `ranking`: it could take the VM, another had more free memory. */
export type RefusalReason =
  | 'capacity'
  | 'draining'
  | 'unreachable'
  | 'capability'
  | 'affinity'
  | 'selector'
  | 'quota'
  | 'not-registered'
  | 'ranking'
  /** Recovery after a fence: the host is fenced itself, or does not share the VM's storage. */
  | 'fenced'
  | 'storage'
  /** Recovery after a fence: the target of the VM's unfinished migration (cleaned up by that migration's compensation). */
  | 'migration';

export interface PlacementCandidate {
  hostId: string;
  verdict: 'chosen' | 'refused';
  reason?: RefusalReason;
  detail?: string;
}

/** What placement considered, recorded in the event that places a VM (or fails to): old events have none. */
export interface PlacementEvidence {
  kind: 'placement';
  candidates: PlacementCandidate[];
}

/** What a reconciler saw when it decided on its own (crash, drift, an abandoned operation). */
export interface ObservationEvidence {
  kind: 'observation';
  /** The host whose driver was asked. */
  hostId: string;
  observed: ObservedState;
  /** The driver's own words. */
  detail: string;
  /** Whether a queue still held a job for the VM's pending operation. */
  jobActive: boolean;
  /** The VM revision the observation was made against (a stale one is dropped). */
  atRevision?: number;
}

export type Evidence = PlacementEvidence | ObservationEvidence;
