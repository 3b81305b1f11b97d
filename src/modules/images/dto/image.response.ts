import { ApiProperty } from '@nestjs/swagger';
import { IMAGE_FORMATS, type ImageFormat } from '../../../domain/image/image.events.js';
import type { ImageView } from '../image.view.js';

// `implements` ties the schema to the view it documents: a field added to the view
// and not here fails the build.

export class ImageResponse implements ImageView {
  @ApiProperty({ example: 'debian-12' })
  name!: string;

  @ApiProperty({ enum: IMAGE_FORMATS, enumName: 'ImageFormat', description: 'Read from the content' })
  format!: ImageFormat;

  @ApiProperty({ type: 'integer' })
  sizeBytes!: number;

  @ApiProperty({ description: 'sha256 of the bytes as uploaded (hex)', pattern: '^[0-9a-f]{64}$' })
  sha256!: string;

  @ApiProperty({ example: 'admin' })
  uploadedBy!: string;

  @ApiProperty({ type: 'integer', description: 'Stream revision' })
  revision!: number;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class ImagePage {
  @ApiProperty({ type: [ImageResponse] })
  items!: ImageResponse[];

  @ApiProperty({ type: 'string', nullable: true, description: 'Always null: every image in one page' })
  next!: string | null;
}
