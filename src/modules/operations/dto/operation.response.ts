import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { OPERATION_KINDS } from '../../../domain/vm/vm.types.js';
import type {
  AnyOperationKind,
  EvacuationResult,
  OperationStatus,
  OperationView,
} from '../../../projections/read-model.types.js';
import type { Covers, Undocumented } from '../../../http/openapi/covers.js';

// `implements` ties each schema to the view it documents: a field added to the view
// and not here fails the build.

const STATUSES: OperationStatus[] = ['pending', 'running', 'succeeded', 'failed', 'cancelled'];
const KINDS: AnyOperationKind[] = [...OPERATION_KINDS, 'rebuild', 'createVolume', 'resizeVolume', 'deleteVolume'];

export class OperationProgressResponse {
  @ApiPropertyOptional({ example: 'migrating memory' })
  step?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 100 })
  percent?: number;

  @ApiPropertyOptional({ type: 'integer' })
  transferredBytes?: number;

  @ApiPropertyOptional({ type: 'integer' })
  remainingBytes?: number;

  @ApiPropertyOptional({ type: 'integer' })
  totalBytes?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'rebuild: events replayed so far; evacuate: VMs handled' })
  done?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'rebuild: events to replay; evacuate: VMs to move' })
  total?: number;
}

type Moved = EvacuationResult['moved'][number];
type NotMoved = EvacuationResult['notMoved'][number];

export class EvacuationMovedResponse implements Moved {
  @ApiProperty({ format: 'uuid' })
  vmId!: string;

  @ApiProperty({ example: 'hv-2' })
  targetHostId!: string;

  @ApiProperty({ format: 'uuid', description: 'The migration that moved it' })
  operationId!: string;
}

export class EvacuationNotMovedResponse implements NotMoved {
  @ApiProperty({ format: 'uuid' })
  vmId!: string;

  @ApiProperty({ example: 'no host has room for it' })
  reason!: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'The migration that failed, when one was started' })
  operationId?: string;
}

export class EvacuationResultResponse implements EvacuationResult {
  @ApiProperty({ type: [EvacuationMovedResponse] })
  moved!: EvacuationMovedResponse[];

  @ApiProperty({ type: [EvacuationNotMovedResponse] })
  notMoved!: EvacuationNotMovedResponse[];
}

export class OperationResponse implements OperationView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: KINDS, enumName: 'OperationKind', example: 'start' })
  kind!: AnyOperationKind;

  @ApiProperty({ type: 'string', nullable: true, description: 'Null for operations on no VM (rebuild)' })
  vmId!: string | null;

  @ApiPropertyOptional({ example: 'default', description: "The VM's project (absent for rebuilds)" })
  project?: string;

  @ApiPropertyOptional({ description: 'rebuild: the read model rebuilt' })
  projection?: string;

  @ApiPropertyOptional({ example: 'hv-1', description: 'evacuate: the host it empties' })
  hostId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'A migration started by an evacuation: the evacuation' })
  parentOperationId?: string;

  @ApiPropertyOptional({ description: 'The volume a volume operation (or an attach/detach) acts on' })
  volumeId?: string;

  @ApiPropertyOptional({ type: [String], description: 'evacuate: its child operations (one migration per VM)' })
  children?: string[];

  @ApiPropertyOptional({ type: EvacuationResultResponse, description: 'evacuate: filled as children finish' })
  result?: EvacuationResultResponse;

  @ApiProperty({ enum: STATUSES, enumName: 'OperationStatus', example: 'succeeded' })
  status!: OperationStatus;

  @ApiProperty({ type: 'string', nullable: true, description: 'Why it failed' })
  error!: string | null;

  @ApiPropertyOptional({
    description: 'status cancelled: who cancelled it (by), why (reason), or the forced stop that superseded it',
    example: { by: 'alice', reason: 'wrong target' },
  })
  cancelled?: { by: string; reason?: string; supersededBy?: string };

  @ApiPropertyOptional({
    description:
      'migrate: a cancel was asked (by, reason) and QEMU decides: the operation ends cancelled when it came ' +
      'in time, succeeded when the migration had already completed (too late)',
    example: { by: 'alice', reason: 'wrong target' },
  })
  cancelRequested?: { by: string; reason?: string };

  @ApiProperty({ example: 'operator' })
  principal!: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;

  @ApiPropertyOptional()
  reason?: string;

  @ApiPropertyOptional({ type: OperationProgressResponse })
  progress?: OperationProgressResponse;
}

export class OperationPage {
  @ApiProperty({ type: [OperationResponse] })
  items!: OperationResponse[];

  @ApiProperty({ type: 'string', nullable: true, description: 'The cursor of the next page; null on the last' })
  next!: string | null;
}

export type OperationResponseCovers = Covers<Undocumented<OperationView, OperationResponse>>;
export type OperationProgressCovers = Covers<
  Undocumented<NonNullable<OperationView['progress']>, OperationProgressResponse>
>;
export type EvacuationNotMovedCovers = Covers<Undocumented<NotMoved, EvacuationNotMovedResponse>>;
