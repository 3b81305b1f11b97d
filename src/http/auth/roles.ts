import { SetMetadata } from '@nestjs/common';

export type Role = 'admin' | 'operator' | 'auditor' | 'viewer';
export const ROLES_KEY = 'virtledger:roles';
export const PUBLIC_KEY = 'virtledger:public';

/** Who may call a route. Admin may call everything. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export const READERS: Role[] = ['operator', 'auditor', 'viewer'];
export const MUTATORS: Role[] = ['operator'];
export const AUDITORS: Role[] = ['auditor'];

export interface Principal {
  role: Role;
  /**
   * Stable, non-secret name that lands in event metadata: the user's name from AUTH_FILE,
   * or role#sha256-prefix for an AUTH_TOKENS token.
   */
  id: string;
  /** The same as id: who the caller is, as events name them. */
  name: string;
  /** The projects whose VMs and operations the caller may see (and, by role, change); 'all' for every one. */
  projects: string[] | 'all';
}
