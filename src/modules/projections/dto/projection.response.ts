import { ApiProperty } from '@nestjs/swagger';
import type { ProjectionView } from '../projections.controller.js';

export class ProjectionResponse implements ProjectionView {
  @ApiProperty({ example: 'vms' })
  name!: string;

  @ApiProperty({ type: 'string', nullable: true, description: 'Last log position applied; null before the first' })
  position!: string | null;
}

export class ProjectionList {
  @ApiProperty({ type: [ProjectionResponse] })
  items!: ProjectionResponse[];
}

export class RebuildAccepted {
  @ApiProperty({ format: 'uuid' })
  operationId!: string;

  @ApiProperty({ example: 'vms' })
  projection!: string;
}
