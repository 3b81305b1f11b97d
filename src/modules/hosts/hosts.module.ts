import { Module } from '@nestjs/common';
import { HostsController } from './hosts.controller.js';

/** /v1/hosts: registration, views (also as of a past point), and what the host's worker says it runs. */
@Module({ controllers: [HostsController] })
export class HostsModule {}
