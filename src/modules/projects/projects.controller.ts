import { Body, Controller, Get, Param, Patch, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { PROJECT_PATTERN } from '../../domain/patterns.js';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { NotFoundException } from '@nestjs/common';
import { ChangeQuotasDto, CreateProjectDto } from './dto/project.dto.js';
import { ProjectsService, type ProjectView } from './projects.service.js';
import { ProjectPage, ProjectResponse } from './dto/project.response.js';
import { ApiAnswer } from '../../http/openapi/decorators.js';

/** A name that cannot be a project is simply not found (as any other unknown one). */
function projectName(name: string): string {
  if (!PROJECT_PATTERN.test(name)) throw new NotFoundException(`project ${name} not found`);
  return name;
}

@ApiTags('projects')
@ApiBearerAuth()
@Controller('v1/projects')
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  /** Admin only: tenants are created by whoever runs the platform. */
  @ApiAnswer('Create a project', ProjectResponse, {
    status: 201,
    description: 'Created',
    headers: { Location: { description: 'The project: /v1/projects/{name}', schema: { type: 'string' } } },
  })
  @Post()
  @Roles()
  async create(
    @Body() body: CreateProjectDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ProjectView> {
    const view = await this.projects.create(body.name, body.quotas, p, body.reason);
    res.status(201).location(`/v1/projects/${view.name}`);
    return view;
  }

  @ApiAnswer('List projects (those the principal may use)', ProjectPage)
  @Get()
  @Roles(...READERS)
  async list(@CurrentPrincipal() p: Principal): Promise<{ items: ProjectView[]; next: null }> {
    return { items: await this.projects.list(p), next: null };
  }

  @ApiAnswer('Read a project: quotas and usage', ProjectResponse)
  @Get(':name')
  @Roles(...READERS)
  async get(@Param('name') name: string, @CurrentPrincipal() p: Principal): Promise<ProjectView> {
    return this.projects.view(projectName(name), p);
  }

  /** Admin only. Lowering a limit below current usage is allowed: existing VMs stay, new ones are refused. */
  @ApiAnswer("Change a project's quotas (null removes a limit)", ProjectResponse)
  @Patch(':name')
  @Roles()
  async change(
    @Param('name') name: string,
    @Body() body: ChangeQuotasDto,
    @CurrentPrincipal() p: Principal,
  ): Promise<ProjectView> {
    return this.projects.changeQuotas(projectName(name), body.quotas, p, body.reason);
  }
}
