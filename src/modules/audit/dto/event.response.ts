import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { EventMetadata } from '../../../eventstore/event-store.port.js';
import { RecordedCommandResponse } from '../../../http/openapi/recorded-command.response.js';
import { ANY_OBJECT } from '../../../http/openapi/schemas.js';
import type { EventView } from '../event.view.js';
import type { Covers, Undocumented } from '../../../http/openapi/covers.js';

export class EventMetadataResponse implements EventMetadata {
  @ApiProperty({ description: 'Who: a named person or service', example: 'operator' })
  principal!: string;

  @ApiProperty({ description: 'The operation (or request) the event belongs to' })
  correlationId!: string;

  @ApiProperty({ description: 'What caused it: an event id, or http:<request>' })
  causationId!: string;

  @ApiProperty({ format: 'date-time' })
  at!: string;

  @ApiProperty({ type: 'integer', description: 'Schema version of the data' })
  schema!: number;

  @ApiPropertyOptional()
  reason?: string;

  @ApiPropertyOptional({
    type: RecordedCommandResponse,
    description: 'The command that decided the event (absent on events from before it was recorded)',
  })
  command?: RecordedCommandResponse;

  @ApiProperty({ description: "The stream's previous hash (hex)" })
  prevHash!: string;

  @ApiProperty({ description: 'This event’s chain hash (hex)' })
  hash!: string;
}

export class EventResponse implements EventView {
  @ApiProperty({ description: 'Global log position (decimal string: may exceed 2^53)', example: '42' })
  position!: string;

  @ApiProperty({ example: 'vm-7c9e6679-7425-40de-944b-e07fc1f90ae7' })
  streamId!: string;

  @ApiProperty({ type: 'integer' })
  revision!: number;

  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'VmStarted' })
  type!: string;

  @ApiProperty({ ...ANY_OBJECT, description: 'The event’s data, upcast to the current schema' })
  data!: Record<string, unknown>;

  @ApiProperty({ type: EventMetadataResponse })
  metadata!: EventMetadataResponse;
}

export class EventPage {
  @ApiProperty({ type: [EventResponse] })
  items!: EventResponse[];

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Where the next page starts (fromPosition or fromRevision); null on the last',
  })
  next!: string | null;
}

export type EventMetadataCovers = Covers<Undocumented<EventMetadata, EventMetadataResponse>>;
export type EventResponseCovers = Covers<Undocumented<EventView, EventResponse>>;
