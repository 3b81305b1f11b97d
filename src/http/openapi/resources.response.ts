import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { Resources } from '../../domain/host/host.events.js';

/** vCPUs, memory and (on hosts that count it) disk: a host's capacity, or what its VMs and volumes take. */
export class ResourcesResponse implements Resources {
  @ApiProperty({ type: 'integer', example: 8 })
  vcpus!: number;

  @ApiProperty({ type: 'integer', example: 16384 })
  memoryMiB!: number;

  @ApiPropertyOptional({ type: 'integer', example: 500, description: 'Only on hosts registered with a disk capacity' })
  diskGiB?: number;
}
