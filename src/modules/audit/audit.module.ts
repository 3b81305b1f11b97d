import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller.js';
import { EventsController } from './events.controller.js';
import { ReplayCheckController } from './replay-check.controller.js';
import { SealsController } from './seals.controller.js';
import { SseLimiter } from './sse-limit.js';

/** The log as auditors read it: events, live feed, chain and seal verification, proofs, export, replay check. */
@Module({
  controllers: [EventsController, AuditController, SealsController, ReplayCheckController],
  providers: [SseLimiter],
})
export class AuditModule {}
