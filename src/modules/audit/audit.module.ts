import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller.js';
import { EventsController } from './events.controller.js';
import { ReplayCheckController } from './replay-check.controller.js';

/** The log as auditors read it: events, live feed, chain verification, export, replay check. */
@Module({ controllers: [EventsController, AuditController, ReplayCheckController] })
export class AuditModule {}
