import { Module } from '@nestjs/common';
import { NetworksController } from './networks.controller.js';
import { NetworksService } from './networks.service.js';

/** /v1/networks: address spaces VMs' NICs get addresses from (network-<id> streams, one registry stream). */
@Module({ controllers: [NetworksController], providers: [NetworksService] })
export class NetworksModule {}
