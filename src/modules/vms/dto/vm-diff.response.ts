import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ChangeCause, FieldChange, JsonValue } from '../../../domain/vm/vm-diff.js';
import { JSON_VALUE } from '../../../http/openapi/schemas.js';
import type { DiffBound, VmDiff } from '../vms.service.js';
import type { Covers, Undocumented } from '../../../http/openapi/covers.js';

export class ChangeCauseResponse implements ChangeCause {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ description: 'Global log position (decimal string)', example: '42' })
  position!: string;

  @ApiProperty({ type: 'integer' })
  revision!: number;

  @ApiProperty({ example: 'VmStarted' })
  type!: string;

  @ApiProperty({ format: 'date-time' })
  at!: string;

  @ApiProperty({ example: 'operator' })
  principal!: string;

  @ApiProperty()
  correlationId!: string;

  @ApiPropertyOptional()
  reason?: string;
}

export class FieldChangeResponse implements FieldChange {
  @ApiProperty({ example: 'state' })
  path!: string;

  @ApiProperty({ ...JSON_VALUE, description: 'Before (null: did not exist)' })
  old!: JsonValue;

  @ApiProperty({ ...JSON_VALUE, description: 'After (null: no longer exists)' })
  new!: JsonValue;

  @ApiProperty({ type: ChangeCauseResponse })
  event!: ChangeCauseResponse;
}

export class DiffBoundResponse implements DiffBound {
  @ApiProperty({ type: 'integer', nullable: true, description: 'null: before the first event' })
  revision!: number | null;

  @ApiProperty({ type: 'string', format: 'date-time', nullable: true })
  at!: string | null;
}

export class VmDiffResponse implements VmDiff {
  @ApiProperty({ format: 'uuid' })
  vmId!: string;

  @ApiProperty({ type: DiffBoundResponse })
  from!: DiffBoundResponse;

  @ApiProperty({ type: DiffBoundResponse })
  to!: DiffBoundResponse;

  @ApiProperty({ type: [FieldChangeResponse] })
  items!: FieldChangeResponse[];

  @ApiProperty({ type: 'string', nullable: true, description: 'Always null: the range is one answer' })
  next!: null;
}

export type VmDiffCovers = Covers<Undocumented<VmDiff, VmDiffResponse>>;
export type FieldChangeCovers = Covers<Undocumented<FieldChange, FieldChangeResponse>>;
export type ChangeCauseCovers = Covers<Undocumented<ChangeCause, ChangeCauseResponse>>;
export type DiffBoundCovers = Covers<Undocumented<DiffBound, DiffBoundResponse>>;
