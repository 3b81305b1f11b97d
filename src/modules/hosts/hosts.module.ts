import { Module } from '@nestjs/common';
import { HostFleetController } from './host-fleet.controller.js';
import { HostFleetService } from './host-fleet.service.js';
import { HostsController } from './hosts.controller.js';

/** /v1/hosts: registration, views (also as of a past point), what the host's worker says it runs, and maintenance. */
@Module({ controllers: [HostsController, HostFleetController], providers: [HostFleetService] })
export class HostsModule {}
