import { ApiProperty } from '@nestjs/swagger';
import type { RecordedCommand } from '../../eventstore/event-store.port.js';
import { ANY_OBJECT } from './schemas.js';

/** The command that decided an event, as its metadata records it. */
export class RecordedCommandResponse implements RecordedCommand {
  @ApiProperty({ example: 'StartVm' })
  type!: string;

  @ApiProperty({ ...ANY_OBJECT, description: 'The fields of the command, as recorded' })
  args!: Record<string, unknown>;
}
