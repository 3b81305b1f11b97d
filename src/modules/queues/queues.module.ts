import { Module } from '@nestjs/common';
import { QueuesController } from './queues.controller.js';

/** /v1/queues: the hosts' job queues (counts, failed jobs). */
@Module({ controllers: [QueuesController] })
export class QueuesModule {}
