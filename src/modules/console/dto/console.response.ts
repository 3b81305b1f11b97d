import { ApiProperty } from '@nestjs/swagger';
import type { ConsoleLogView, ConsoleTicketView } from '../console.view.js';

export class ConsoleLogResponse implements ConsoleLogView {
  @ApiProperty({ format: 'uuid' })
  vmId!: string;

  @ApiProperty({ example: 'hv1' })
  hostId!: string;

  @ApiProperty({ type: [String], description: 'The last lines of the serial log, oldest first, without line ends' })
  lines!: string[];

  @ApiProperty({ description: 'True when older lines were left out (the log is read up to a bounded size)' })
  truncated!: boolean;
}

export class ConsoleTicketResponse implements ConsoleTicketView {
  @ApiProperty({ description: 'Opaque, one use, valid for a few seconds', pattern: '^[A-Za-z0-9_-]{32}$' })
  ticket!: string;

  @ApiProperty({ format: 'date-time' })
  expiresAt!: string;

  @ApiProperty({ example: '/v1/vms/3f0c…/console?ticket=…', description: 'Open this path as a WebSocket' })
  url!: string;

  @ApiProperty({ enum: ['read-write', 'read-only'], description: 'Viewers and auditors read only' })
  mode!: 'read-write' | 'read-only';
}
