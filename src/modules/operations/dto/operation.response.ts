import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { OPERATION_KINDS } from '../../../domain/vm/vm.types.js';
import type { AnyOperationKind, OperationStatus, OperationView } from '../../../projections/read-model.types.js';

// `implements` ties each schema to the view it documents: a field added to the view
// and not here fails the build.

const STATUSES: OperationStatus[] = ['pending', 'running', 'succeeded', 'failed', 'cancelled'];
const KINDS: AnyOperationKind[] = [...OPERATION_KINDS, 'rebuild'];

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

  @ApiPropertyOptional({ type: 'integer', description: 'rebuild: events replayed so far' })
  done?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'rebuild: events to replay' })
  total?: number;
}

export class OperationResponse implements OperationView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: KINDS, enumName: 'OperationKind', example: 'start' })
  kind!: AnyOperationKind;

  @ApiProperty({ type: 'string', nullable: true, description: 'Null for operations on no VM (rebuild)' })
  vmId!: string | null;

  @ApiPropertyOptional({ description: 'rebuild: the read model rebuilt' })
  projection?: string;

  @ApiProperty({ enum: STATUSES, enumName: 'OperationStatus', example: 'succeeded' })
  status!: OperationStatus;

  @ApiProperty({ type: 'string', nullable: true, description: 'Why it failed' })
  error!: string | null;

  @ApiPropertyOptional({
    description: 'status cancelled: who cancelled it (by), why (reason), or the forced stop that superseded it',
    example: { by: 'alice', reason: 'wrong target' },
  })
  cancelled?: { by: string; reason?: string; supersededBy?: string };

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
