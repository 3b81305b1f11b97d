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
  /** Stable, non-secret name for the token: role#sha256-prefix. Lands in event metadata. */
  id: string;
}
