import type { DomainEvent } from '../decider.js';
import type { Quotas, VmFootprint } from './project.types.js';

export type ProjectCreated = DomainEvent<'ProjectCreated', { name: string; quotas: Quotas }>;
export type ProjectQuotasChanged = DomainEvent<'ProjectQuotasChanged', { name: string; quotas: Quotas }>;
/** Room reserved for a VM about to be created; its append is what serializes concurrent creates. */
export type ProjectVmAdmitted = DomainEvent<'ProjectVmAdmitted', VmFootprint & { vmId: string; at: string }>;

/** Room reserved for a volume's size (its create, or the new size of a grow); same serialization as VMs. */
export type ProjectVolumeAdmitted = DomainEvent<
  'ProjectVolumeAdmitted',
  { volumeId: string; sizeGiB: number; at: string }
>;
/** The admitted volume was never recorded (its host was refused): its room is given back at once. */
export type ProjectVolumeReleased = DomainEvent<'ProjectVolumeReleased', { volumeId: string; at: string }>;
export type ProjectEvent =
  ProjectCreated | ProjectQuotasChanged | ProjectVmAdmitted | ProjectVolumeAdmitted | ProjectVolumeReleased;

export const PROJECT_EVENT_TYPES: readonly ProjectEvent['type'][] = [
  'ProjectCreated',
  'ProjectQuotasChanged',
  'ProjectVmAdmitted',
  'ProjectVolumeAdmitted',
  'ProjectVolumeReleased',
];

export function isProjectEventType(type: string): type is ProjectEvent['type'] {
  return (PROJECT_EVENT_TYPES as readonly string[]).includes(type);
}
