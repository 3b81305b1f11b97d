import { ApiProperty } from '@nestjs/swagger';
import type { AsOf } from '../fleet-point.js';

/** What a `?at=` answer says about the point it answers for. */
export class AsOfResponse implements AsOf {
  @ApiProperty({
    type: 'string',
    nullable: true,
    pattern: '^\\d{1,20}$',
    description: 'Log position of the last VM or host event included (null: none yet)',
  })
  position!: string | null;

  @ApiProperty({
    type: 'string',
    format: 'date-time',
    nullable: true,
    description: "The instant asked for, or that position's event time; null when asked for now",
  })
  at!: string | null;
}
