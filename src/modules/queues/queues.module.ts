import { Module } from '@nestjs/common';
import { DeadResultsService } from './dead-results.service.js';
import { QueueActionsService } from './queue-actions.service.js';
import { QueuesController } from './queues.controller.js';

/** /v1/queues: the hosts' job queues (counts, failed jobs, retry and discard) and the results stream's dead letters. */
@Module({ controllers: [QueuesController], providers: [QueueActionsService, DeadResultsService] })
export class QueuesModule {}
