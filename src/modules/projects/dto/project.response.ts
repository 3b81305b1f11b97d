import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { Quotas, Usage } from '../../../domain/project/project.types.js';
import type { DiskUsage, ProjectView } from '../projects.service.js';
import type { Covers, Undocumented } from '../../../http/openapi/covers.js';

// `implements` ties each schema to the view it documents: a field added to the view
// and not here fails the build.

export class QuotasResponse implements Quotas {
  @ApiPropertyOptional({ type: 'integer', description: 'Live VMs; absent: unlimited' })
  vms?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'vCPUs over the live VMs; absent: unlimited' })
  vcpus?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'MiB of memory over the live VMs; absent: unlimited' })
  memoryMiB?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'GiB of disk over the live VMs; absent: unlimited' })
  diskGiB?: number;
}

export class UsageResponse implements Usage {
  @ApiProperty({ type: 'integer' })
  vms!: number;

  @ApiProperty({ type: 'integer' })
  vcpus!: number;

  @ApiProperty({ type: 'integer' })
  memoryMiB!: number;

  @ApiProperty({ type: 'integer' })
  diskGiB!: number;
}

/** Where usage.diskGiB comes from: VM disks and volumes count against the same quota. */
export class DiskUsageResponse implements DiskUsage {
  @ApiProperty({ type: 'integer', description: 'GiB of the live VMs’ own disks' })
  vms!: number;

  @ApiProperty({ type: 'integer', description: 'GiB of the project’s volumes (a grow in flight at its new size)' })
  volumes!: number;
}

export class ProjectResponse implements ProjectView {
  @ApiProperty({ example: 'team-a' })
  name!: string;

  @ApiProperty({ type: QuotasResponse })
  quotas!: QuotasResponse;

  @ApiProperty({ type: UsageResponse, description: "What the project's live VMs and volumes use now" })
  usage!: UsageResponse;

  @ApiProperty({ type: DiskUsageResponse, description: 'usage.diskGiB split between VM disks and volumes' })
  diskUsage!: DiskUsageResponse;

  @ApiProperty({ type: 'string', format: 'date-time', nullable: true, description: 'Null for the implicit default' })
  createdAt!: string | null;

  @ApiProperty({ type: 'string', format: 'date-time', nullable: true })
  updatedAt!: string | null;
}

export class ProjectPage {
  @ApiProperty({ type: [ProjectResponse] })
  items!: ProjectResponse[];

  @ApiProperty({ type: 'string', nullable: true, description: 'Always null: every project in one page' })
  next!: string | null;
}

export type QuotasCovers = Covers<Undocumented<Quotas, QuotasResponse>>;
