import { ApiProperty } from '@nestjs/swagger';

/** One read model: ProjectionView in projections.controller.ts. */
export class ProjectionResponse {
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
