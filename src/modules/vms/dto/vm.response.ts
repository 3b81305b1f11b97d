import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  RESTART_POLICIES,
  VM_STATES,
  type RestartPolicy,
  type SnapshotRecord,
  type VmStateName,
  type VolumeSpec,
} from '../../../domain/vm/vm.types.js';
import { AsOfResponse } from '../../../http/openapi/as-of.response.js';
import type { ScheduledRestartView, VmNicView, VmView } from '../vm.view.js';
import type { Covers, Undocumented } from '../../../http/openapi/covers.js';

// `implements` ties each schema to the view it documents: a field added to the view
// and not here fails the build.

export class SnapshotResponse implements SnapshotRecord {
  @ApiProperty({ example: 'before-upgrade' })
  name!: string;

  @ApiProperty({ description: 'Includes RAM (resumes where it was) or disk only' })
  memory!: boolean;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}

export class AttachedVolumeResponse implements VolumeSpec {
  @ApiProperty({ format: 'uuid' })
  volumeId!: string;

  @ApiProperty({ example: 'data' })
  name!: string;

  @ApiProperty({ type: 'integer', example: 10 })
  sizeGiB!: number;
}

export class PendingOperationResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'start' })
  kind!: string;

  @ApiProperty({ description: 'The step the operation waits for', example: 'start' })
  step!: string;
}

export class MigrationStateResponse {
  @ApiProperty()
  sourceHostId!: string;

  @ApiProperty()
  targetHostId!: string;

  @ApiProperty()
  live!: boolean;
}

export class VmCrashFenceResponse {
  @ApiProperty({ description: 'The fenced host the VM went down with' })
  hostId!: string;

  @ApiProperty({ description: 'The fence (HostFenced.fenceId)' })
  fenceId!: string;
}

export class VmCrashResponse {
  @ApiProperty({ example: 'the QEMU process is gone (exit unknown)' })
  reason!: string;

  @ApiProperty({ enum: VM_STATES, enumName: 'VmState', example: 'running' })
  previousState!: VmStateName;

  @ApiPropertyOptional({
    type: VmCrashFenceResponse,
    description: 'Set when it went down with its fenced host and was not recovered elsewhere (needs attention)',
  })
  fence?: VmCrashFenceResponse;
}

export class ScheduledRestartResponse implements ScheduledRestartView {
  @ApiProperty({ format: 'uuid', description: 'The restart operation (GET /v1/operations/{id})' })
  operationId!: string;

  @ApiProperty({ type: 'integer', description: 'Restart attempt within the healing window', example: 1 })
  attempt!: number;

  @ApiProperty({ format: 'date-time', description: 'Not started before this instant (backoff)' })
  notBefore!: string;

  @ApiProperty({ description: 'The event (a VmCrashed, or a failed restart) it answers' })
  causeEventId!: string;
}

export class VmNicResponse implements VmNicView {
  @ApiProperty({ format: 'uuid', description: 'The network (GET /v1/networks/{id})' })
  networkId!: string;

  @ApiProperty({ example: '52:54:00:12:34:56' })
  mac!: string;

  @ApiProperty({ example: '10.20.0.2' })
  ip!: string;
}

export class VmResponse implements VmView {
  @ApiProperty({ format: 'uuid', example: '7c9e6679-7425-40de-944b-e07fc1f90ae7' })
  id!: string;

  @ApiProperty({ example: 'web-1' })
  name!: string;

  @ApiProperty({ example: 'default', description: 'The project the VM belongs to' })
  project!: string;

  @ApiProperty({
    enum: [...VM_STATES, 'crashed'],
    enumName: 'VmViewState',
    example: 'running',
    description: 'crashed: stopped without being asked (see crash) until started again',
  })
  state!: VmStateName | 'crashed';

  @ApiProperty({ type: VmCrashResponse, nullable: true, description: 'Why it reads crashed; null otherwise' })
  crash!: VmCrashResponse | null;

  @ApiProperty({
    enum: RESTART_POLICIES,
    enumName: 'RestartPolicy',
    description:
      'What healing does when the VM goes down unasked: on-crash restarts a crash, always also a guest poweroff',
  })
  restartPolicy!: RestartPolicy;

  @ApiProperty({
    type: ScheduledRestartResponse,
    nullable: true,
    description: 'The restart healing scheduled, waiting for its time (backoff); null otherwise',
  })
  scheduledRestart!: ScheduledRestartResponse | null;

  @ApiProperty({ type: 'string', nullable: true, description: 'Null until placed' })
  hostId!: string | null;

  @ApiPropertyOptional({ type: 'string', nullable: true, description: 'Name of the host beside its id' })
  hostName?: string | null;

  @ApiProperty({ type: 'integer', example: 1 })
  vcpus!: number;

  @ApiProperty({ type: 'integer', example: 256 })
  memoryMiB!: number;

  @ApiProperty({ type: 'integer', example: 1 })
  diskGiB!: number;

  @ApiProperty({
    type: 'integer',
    example: 4,
    description: 'Ceiling vCPUs can be added up to while the VM runs (a VM from before ceilings: its vcpus)',
  })
  maxVcpus!: number;

  @ApiProperty({
    type: 'integer',
    example: 1024,
    description: 'Ceiling memory can be added up to while the VM runs (a VM from before ceilings: its memoryMiB)',
  })
  maxMemoryMiB!: number;

  @ApiPropertyOptional({ example: 'alpine' })
  image?: string;

  @ApiProperty({ type: [SnapshotResponse] })
  snapshots!: SnapshotResponse[];

  @ApiProperty({ type: [AttachedVolumeResponse], description: 'Attached volumes, in attach order' })
  volumes!: AttachedVolumeResponse[];

  @ApiProperty({ type: 'integer', description: 'Stream revision (also the ETag)', example: 3 })
  revision!: number;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;

  @ApiProperty({
    type: PendingOperationResponse,
    nullable: true,
    description: "The operation holding the VM's lock, if any",
  })
  pendingOperation!: PendingOperationResponse | null;

  @ApiPropertyOptional({ type: MigrationStateResponse, nullable: true })
  migration?: MigrationStateResponse | null;

  @ApiProperty({ type: 'string', nullable: true, description: 'The placement group the VM joined at create' })
  placementGroupId!: string | null;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'Host labels its hosts must carry',
  })
  hostSelector?: Record<string, string>;

  @ApiPropertyOptional({ enum: ['spread', 'pack'], description: 'How placement ordered the hosts for it' })
  placement?: 'spread' | 'pack';

  @ApiProperty({ type: [VmNicResponse], description: 'NICs with their allocated MAC and IP' })
  nics!: VmNicResponse[];
}

export class VmPage {
  @ApiProperty({ type: [VmResponse] })
  items!: VmResponse[];

  @ApiProperty({ type: 'string', nullable: true, description: 'The cursor of the next page; null on the last' })
  next!: string | null;

  @ApiPropertyOptional({ type: AsOfResponse, description: 'With ?at=: the point the list is as of (one page)' })
  asOf?: AsOfResponse;
}

export class SnapshotPage {
  @ApiProperty({ type: [SnapshotResponse] })
  items!: SnapshotResponse[];

  @ApiProperty({ type: 'string', nullable: true, description: 'Always null: every snapshot in one page' })
  next!: string | null;
}

export type VmResponseCovers = Covers<Undocumented<VmView, VmResponse>>;
