import { BadRequestException, ForbiddenException, NotFoundException } from '@nestjs/common';
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

/**
 * Why a principal of some projects may not do what only a principal of every project may (a
 * resource shared by every project, an answer that spans all of them), in the one wording every
 * such refusal uses: `role R of projects P may not <action>: <reason>, so only <who> may`.
 */
export function allProjectsOnly(p: Principal, action: string, reason: string, who: string): string {
  return `role ${p.role} of projects ${String(p.projects)} may not ${action}: ${reason}, so only ${who} may`;
}

/** 403 with `allProjectsOnly`'s reason unless `p` sees every project; decided before any id is looked up. */
export function mustSeeAllProjects(p: Principal, action: string, reason: string, who: string): void {
  if (!seesAll(p)) throw new ForbiddenException(allProjectsOnly(p, action, reason, who));
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
