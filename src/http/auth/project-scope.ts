import { BadRequestException, NotFoundException } from '@nestjs/common';
import { DEFAULT_PROJECT } from '../../domain/project/project.types.js';
import type { Principal } from './roles.js';

/**
 * Who may see what: a principal sees the VMs and operations of its projects
 * ('all': every one). Anything outside them answers exactly as a missing id
 * would (404, same body), so ids of other tenants cannot be probed.
 */
export function mayUse(p: Principal, project: string): boolean {
  return p.projects === 'all' || p.projects.includes(project);
}

export function seesAll(p: Principal): boolean {
  return p.projects === 'all';
}

/** The project a create lands in: the one named, else the caller's only one (`default` for an all-projects caller). */
export function projectForCreate(p: Principal, named: string | undefined): string {
  if (named !== undefined) {
    if (!mayUse(p, named)) throw new NotFoundException(`project ${named} not found`);
    return named;
  }
  if (p.projects === 'all') return DEFAULT_PROJECT;
  if (p.projects.length === 1) return p.projects[0]!;
  throw new BadRequestException(
    p.projects.length === 0
      ? 'project: you belong to no project, so you cannot create VMs'
      : `project: you belong to several projects (${p.projects.join(', ')}); name one`,
  );
}
