import { Module } from '@nestjs/common';
import { QueueActionsService } from './queue-actions.service.js';
import { QueuesController } from './queues.controller.js';

/** /v1/queues: the hosts' job queues (counts, failed jobs, retry and discard). */
@Module({ controllers: [QueuesController], providers: [QueueActionsService] })
export class QueuesModule {}
