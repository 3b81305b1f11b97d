import { Module } from '@nestjs/common';
import { FleetController } from './fleet.controller.js';

/** /v1/fleet: the whole fleet, now or at any point of the log. */
@Module({ controllers: [FleetController] })
export class FleetModule {}
