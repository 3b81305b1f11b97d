import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** What a command answers with its 202: the operation to follow (also in `Location`). */
export class AcceptedResponse {
  @ApiProperty({ format: 'uuid', example: '0b6f2d4e-3c1a-4f7e-9a51-2f4d8c6b7e10' })
  operationId!: string;

  @ApiPropertyOptional({ format: 'uuid', example: '7c9e6679-7425-40de-944b-e07fc1f90ae7' })
  vmId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'The volume a volume command (or an attach/detach) acts on' })
  volumeId?: string;
}
