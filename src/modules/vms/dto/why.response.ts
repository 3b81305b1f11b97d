import { ApiExtraModels, ApiProperty, getSchemaPath } from '@nestjs/swagger';
import { RecordedCommandResponse } from '../../../http/openapi/recorded-command.response.js';
import { ANY_OBJECT, JSON_VALUE } from '../../../http/openapi/schemas.js';
import type { CauseLink, Origin, WhyView } from '../why.js';

// `implements` ties each schema to the view it documents: a field added to the view
// and not here fails the build.

type RequestOrigin = Extract<Origin, { kind: 'request' }>;
type ObservationOrigin = Extract<Origin, { kind: 'observation' }>;
type ElsewhereOrigin = Extract<Origin, { kind: 'elsewhere' }>;
type WhyEvent = WhyView['event'];

export class WhyEventResponse implements WhyEvent {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'VmStarted' })
  type!: string;

  @ApiProperty({ type: 'integer' })
  revision!: number;

  @ApiProperty({ pattern: '^\\d{1,20}$', description: 'Log position (decimal string)' })
  position!: string;

  @ApiProperty({ format: 'date-time' })
  at!: string;

  @ApiProperty(ANY_OBJECT)
  data!: Record<string, unknown>;
}

export class CauseLinkResponse implements CauseLink {
  @ApiProperty({ format: 'uuid' })
  eventId!: string;

  @ApiProperty({ example: 'VmStartRequested' })
  type!: string;

  @ApiProperty({ type: 'integer' })
  revision!: number;

  @ApiProperty({ format: 'date-time' })
  at!: string;

  @ApiProperty()
  principal!: string;

  @ApiProperty({ type: RecordedCommandResponse, nullable: true })
  command!: RecordedCommandResponse | null;
}

export class RequestOriginResponse implements RequestOrigin {
  @ApiProperty({ enum: ['request'] })
  kind!: 'request';

  @ApiProperty({ format: 'uuid' })
  operationId!: string;

  @ApiProperty()
  principal!: string;

  @ApiProperty({ type: 'string', nullable: true, description: 'The reason the requester gave' })
  reason!: string | null;

  @ApiProperty({ type: RecordedCommandResponse, nullable: true })
  command!: RecordedCommandResponse | null;
}

export class ObservationOriginResponse implements ObservationOrigin {
  @ApiProperty({ enum: ['observation'] })
  kind!: 'observation';

  @ApiProperty({ description: 'The reconciler observation that started the chain' })
  id!: string;

  @ApiProperty()
  principal!: string;
}

export class ElsewhereOriginResponse implements ElsewhereOrigin {
  @ApiProperty({ enum: ['elsewhere'] })
  kind!: 'elsewhere';

  @ApiProperty({ description: 'A cause that is not an event of this stream' })
  causationId!: string;
}

@ApiExtraModels(RequestOriginResponse, ObservationOriginResponse, ElsewhereOriginResponse)
export class WhyResponse implements WhyView {
  @ApiProperty({ format: 'uuid' })
  vmId!: string;

  @ApiProperty({ type: WhyEventResponse })
  event!: WhyEventResponse;

  @ApiProperty({
    type: RecordedCommandResponse,
    nullable: true,
    description: 'The command that decided this event; null on events from before it was recorded',
  })
  command!: RecordedCommandResponse | null;

  @ApiProperty()
  principal!: string;

  @ApiProperty({ type: 'string', nullable: true })
  reason!: string | null;

  @ApiProperty()
  correlationId!: string;

  @ApiProperty()
  causationId!: string;

  @ApiProperty({ description: 'True when no person asked for this: the chain starts at an observation' })
  automatic!: boolean;

  @ApiProperty({
    ...JSON_VALUE,
    description: 'What an automatic decision (or placement) acted on, as recorded; null when none was',
  })
  evidence!: unknown;

  @ApiProperty({ type: [CauseLinkResponse], description: 'From the cause back to the first event, nearest first' })
  causation!: CauseLinkResponse[];

  @ApiProperty({
    oneOf: [
      { $ref: getSchemaPath(RequestOriginResponse) },
      { $ref: getSchemaPath(ObservationOriginResponse) },
      { $ref: getSchemaPath(ElsewhereOriginResponse) },
    ],
    discriminator: { propertyName: 'kind' },
    description: 'Where the chain starts: a request, an observation, or a cause elsewhere',
  })
  origin!: RequestOriginResponse | ObservationOriginResponse | ElsewhereOriginResponse;
}
