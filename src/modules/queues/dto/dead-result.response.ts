import { ApiProperty } from '@nestjs/swagger';
import type { DeadResult, ResultCounts } from '../../../application/jobs.js';

/** The results stream's counts (GET /v1/queues/results; the same numbers /metrics and /health give). */
export class ResultCountsResponse implements ResultCounts {
  @ApiProperty({
    type: 'integer',
    description:
      'Read by a control plane and not acknowledged: being recorded, or failed and waiting to be taken again',
  })
  pending!: number;
  @ApiProperty({ type: 'integer', description: 'Posted by workers and not read by any control plane yet' })
  waiting!: number;
  @ApiProperty({
    type: 'integer',
    description: 'Given up after every delivery: on the dead-letter stream until retried or discarded',
  })
  deadLettered!: number;
}

/** A result the control plane could not record after every delivery, as operators see it. */
export class DeadResultResponse implements DeadResult {
  @ApiProperty({
    description: 'Its entry id on the dead-letter stream (what retry and discard take)',
    example: '1700000000000-0',
  })
  id!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The id its worker gave it (the job it reports on and the outcome)',
  })
  resultId!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'started, succeeded, failed, progress, observed, fenced or volume',
  })
  kind!: string | null;
  @ApiProperty({ type: String, nullable: true })
  operationId!: string | null;
  @ApiProperty({ type: String, nullable: true })
  step!: string | null;
  @ApiProperty({ type: String, nullable: true })
  vmId!: string | null;
  @ApiProperty({ type: String, nullable: true })
  volumeId!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The host the result names (observations, fences), else the host its VM or volume is on now',
  })
  hostId!: string | null;
  @ApiProperty({ description: 'The last reason it could not be recorded' })
  reason!: string;
  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'Deliveries before it was given up (null for entries dead-lettered by an older version)',
  })
  deliveries!: number | null;
  @ApiProperty({ format: 'date-time' })
  deadAt!: string;
}

export class DeadResultPage {
  @ApiProperty({ type: [DeadResultResponse] })
  items!: DeadResultResponse[];
  @ApiProperty({ type: String, nullable: true, description: 'Always null: one page, oldest first' })
  next!: string | null;
}

/** What a retry or a discard of a dead-lettered result did. */
export class DeadResultActionResponse {
  @ApiProperty({ enum: ['retried', 'discarded'] })
  action!: 'retried' | 'discarded';
  @ApiProperty({ type: DeadResultResponse, description: 'The result as it was when the operator acted' })
  result!: DeadResultResponse;
}
