import type { DomainEvent } from '../decider.js';
import type { Quotas, VmFootprint } from './project.types.js';

export type ProjectCreated = DomainEvent<'ProjectCreated', { name: string; quotas: Quotas }>;
export type ProjectQuotasChanged = DomainEvent<'ProjectQuotasChanged', { name: string; quotas: Quotas }>;
/** Room reserved for a VM about to be created; its append is what serializes concurrent creates. */
export type ProjectVmAdmitted = DomainEvent<'ProjectVmAdmitted', VmFootprint & { vmId: string; at: string }>;

export type ProjectEvent = ProjectCreated | ProjectQuotasChanged | ProjectVmAdmitted;

export const PROJECT_EVENT_TYPES: readonly ProjectEvent['type'][] = [
  'ProjectCreated',
  'ProjectQuotasChanged',
  'ProjectVmAdmitted',
];

export function isProjectEventType(type: string): type is ProjectEvent['type'] {
  return (PROJECT_EVENT_TYPES as readonly string[]).includes(type);
}
