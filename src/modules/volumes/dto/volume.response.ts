import { ApiProperty } from '@nestjs/swagger';
import type { VolumeStatus } from '../../../domain/volume/volume.state.js';
import type { VolumeView } from '../volume.view.js';

const STATUSES: VolumeStatus[] = ['creating', 'available', 'resizing', 'deleting', 'deleted', 'failed'];

export class VolumePendingResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'createVolume' })
  kind!: string;
}

// `implements` ties the schema to the view it documents: a field added to the view and not here fails the build.
export class VolumeResponse implements VolumeView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'data' })
  name!: string;

  @ApiProperty({ example: 'default' })
  project!: string;

  @ApiProperty({ type: 'integer', example: 10 })
  sizeGiB!: number;

  @ApiProperty({ type: 'string', nullable: true, description: 'The host whose storage holds the file' })
  hostId!: string | null;

  @ApiProperty({ enum: STATUSES, enumName: 'VolumeStatus' })
  status!: VolumeStatus;

  @ApiProperty({ type: 'string', nullable: true, description: 'The VM it is attached to' })
  attachedTo!: string | null;

  @ApiProperty({ type: VolumePendingResponse, nullable: true })
  pendingOperation!: VolumePendingResponse | null;

  @ApiProperty({ type: 'integer', description: 'Stream revision' })
  revision!: number;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class VolumePage {
  @ApiProperty({ type: [VolumeResponse] })
  items!: VolumeResponse[];
}
