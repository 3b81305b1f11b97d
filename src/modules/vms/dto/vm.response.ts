import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { VM_STATES, type SnapshotRecord, type VmStateName, type VolumeSpec } from '../../../domain/vm/vm.types.js';
import { AsOfResponse } from '../../../http/openapi/as-of.response.js';
import type { VmView } from '../vm.view.js';
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

export class VmCrashResponse {
  @ApiProperty({ example: 'the QEMU process is gone (exit unknown)' })
  reason!: string;

  @ApiProperty({ enum: VM_STATES, enumName: 'VmState', example: 'running' })
  previousState!: VmStateName;
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
