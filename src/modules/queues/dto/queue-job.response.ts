import { ApiProperty } from '@nestjs/swagger';

/** A failed job of a host's queue, as operators see it. */
export class FailedJobResponse {
  @ApiProperty({ description: 'BullMQ job id (the event that caused the job)' })
  id!: string;
  @ApiProperty({ description: 'The driver step the job runs (define, start, migrate, …)' })
  step!: string;
  @ApiProperty({ type: String, nullable: true })
  operationId!: string | null;
  @ApiProperty({ type: String, nullable: true })
  vmId!: string | null;
  @ApiProperty({ description: 'Why BullMQ failed it (stalled too often, results queue unreachable, …)' })
  error!: string;
  @ApiProperty({ type: 'integer' })
  attempts!: number;
  @ApiProperty({
    type: 'integer',
    description: 'How often it was found stalled (its worker died mid-call) and redelivered',
  })
  stalled!: number;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  failedAt!: string | null;
}

export class FailedJobPage {
  @ApiProperty()
  hostId!: string;
  @ApiProperty({ type: [FailedJobResponse] })
  items!: FailedJobResponse[];
  @ApiProperty({ type: String, nullable: true, description: 'Always null: one page, newest first' })
  next!: string | null;
}

/** What a retry or a discard did, and where it is recorded. */
export class QueueActionResponse {
  @ApiProperty({ enum: ['retried', 'discarded'] })
  action!: 'retried' | 'discarded';
  @ApiProperty()
  hostId!: string;
  @ApiProperty({ type: FailedJobResponse, description: 'The job as it was when the operator acted' })
  job!: FailedJobResponse;
  @ApiProperty({ description: 'The log position of the host event recording the act (who, when, why)' })
  position!: string;
}
