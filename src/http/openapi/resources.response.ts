import { ApiProperty } from '@nestjs/swagger';
import type { Resources } from '../../domain/host/host.events.js';

/** vCPUs and memory: a host's capacity, or what its VMs take. */
export class ResourcesResponse implements Resources {
  @ApiProperty({ type: 'integer', example: 8 })
  vcpus!: number;

  @ApiProperty({ type: 'integer', example: 16384 })
  memoryMiB!: number;
}
