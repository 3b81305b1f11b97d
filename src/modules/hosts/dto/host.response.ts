import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { HostDomain } from '../../../application/host-queries.js';
import type { HostCapabilities } from '../../../domain/host/host.events.js';
import type { HotResizeView } from '../../../domain/vm/vm.types.js';
import { AsOfResponse } from '../../../http/openapi/as-of.response.js';
import { ResourcesResponse } from '../../../http/openapi/resources.response.js';
import type { HostView } from '../host.view.js';

// `implements` ties each schema to the view it documents: a field added to the view
// and not here fails the build.

export class HotResizeResponse implements HotResizeView {
  @ApiProperty({
    enum: ['none', 'grow', 'any'],
    description: "grow: vCPUs added up to the VM's maxVcpus; any: also removed",
  })
  vcpus!: 'none' | 'grow' | 'any';

  @ApiProperty({
    enum: ['none', 'grow', 'any'],
    description: "grow: memory added up to the VM's maxMemoryMiB; any: also reduced",
  })
  memory!: 'none' | 'grow' | 'any';

  @ApiProperty({ description: 'The root disk grows while the VM runs' })
  diskGrow!: boolean;

  @ApiPropertyOptional({ description: 'Live memory changes come in multiples of this many MiB (absent: any)' })
  memoryStepMiB?: number;
}

export class HostCapabilitiesResponse implements HostCapabilities {
  @ApiProperty()
  liveMigration!: boolean;

  @ApiProperty()
  coldMigration!: boolean;

  @ApiProperty()
  memorySnapshots!: boolean;

  @ApiProperty()
  diskSnapshots!: boolean;

  @ApiProperty()
  pause!: boolean;

  @ApiProperty()
  reboot!: boolean;

  @ApiProperty({ description: 'Informational: KVM (or the like) available' })
  hardwareAcceleration!: boolean;

  @ApiPropertyOptional({
    type: HotResizeResponse,
    description: 'What a running VM can change live (PATCH /v1/vms/{id}); absent: nothing, stop it to resize',
  })
  hotResize?: HotResizeResponse;
}

export class HostUnreachableResponse {
  @ApiProperty({ format: 'date-time', nullable: true, description: 'When it was marked unreachable' })
  since!: string | null;

  @ApiProperty({ format: 'date-time', description: "The last heartbeat heard (the worker's clock)" })
  lastHeartbeatAt!: string;

  @ApiProperty({ example: 'hv-1/4242', description: 'The worker process (machine/pid) that sent it' })
  lastHeartbeatBy!: string;

  @ApiProperty({ type: 'integer', description: 'How long it had been silent when marked' })
  silentMs!: number;

  @ApiProperty({ example: 'api-1/1717', description: 'The control-plane process that noticed' })
  observedBy!: string;
}

export class HostFencedResponse {
  @ApiProperty({ description: 'The fence (VMs recovered after it name it)' })
  fenceId!: string;

  @ApiProperty({ example: 'alice', description: 'The admin who fenced it, or the worker that confirmed it' })
  by!: string;

  @ApiProperty({ format: 'date-time', nullable: true })
  at!: string | null;

  @ApiPropertyOptional()
  reason?: string;

  @ApiProperty({
    enum: ['admin', 'worker'],
    description: 'admin: asserted by an admin while unreachable; worker: its worker stopped every VM and said so',
  })
  evidenceKind!: 'admin' | 'worker';
}

export class HostResponse implements HostView {
  @ApiProperty({ example: 'hv-1' })
  id!: string;

  @ApiProperty({ example: 'hv-1' })
  name!: string;

  @ApiProperty({ example: 'qemu' })
  driver!: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { rack: 'r1' },
    description: 'Labels set at registration or with PATCH',
  })
  labels!: Record<string, string>;

  @ApiProperty({ example: 'qemu:///system' })
  uri!: string;

  @ApiProperty({ type: ResourcesResponse })
  capacity!: ResourcesResponse;

  @ApiProperty({ type: ResourcesResponse, description: 'What its VMs take' })
  allocated!: ResourcesResponse;

  @ApiProperty({
    example: 'active',
    description:
      'active, draining (no new VMs), unreachable (its worker silent over HOST_DEAD_MS; no new VMs), ' +
      'or fenced (out: its VMs recovered elsewhere or marked lost; until heard again)',
  })
  state!: string;

  @ApiProperty({ type: HostFencedResponse, nullable: true, description: 'The fence while fenced; null otherwise' })
  fenced!: HostFencedResponse | null;

  @ApiProperty({ type: HostUnreachableResponse, nullable: true, description: 'The evidence while unreachable' })
  unreachable!: HostUnreachableResponse | null;

  @ApiProperty({ type: 'integer', description: 'VMs placed on it' })
  vms!: number;

  @ApiProperty({ type: HostCapabilitiesResponse, nullable: true })
  capabilities!: HostCapabilitiesResponse | null;

  @ApiProperty({ type: 'integer', description: 'Stream revision (also the ETag)' })
  revision!: number;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class HostPage {
  @ApiProperty({ type: [HostResponse] })
  items!: HostResponse[];

  @ApiProperty({ type: 'string', nullable: true, description: 'Always null: every host in one page' })
  next!: string | null;

  @ApiPropertyOptional({ type: AsOfResponse, description: 'With ?at=: the point the list is as of' })
  asOf?: AsOfResponse;
}

/** One domain the driver runs; drivers may add details beside these. */
export class HostDomainResponse implements HostDomain {
  [detail: string]: unknown;

  @ApiProperty({ description: 'The VM id the domain is named for' })
  vmId!: string;

  @ApiProperty({ description: 'False: the driver runs it but virtledger did not create it' })
  managed!: boolean;

  @ApiProperty({ example: 'running' })
  state!: string;
}

export class HostDomainPage {
  @ApiProperty({ type: [HostDomainResponse] })
  items!: HostDomainResponse[];

  @ApiProperty({ type: 'string', nullable: true, description: 'Always null: every domain in one page' })
  next!: string | null;
}
