import { Module } from '@nestjs/common';
import { VmsController } from './vms.controller.js';
import { VmsService } from './vms.service.js';

/** /v1/vms: lifecycle, snapshots, migration, history of one VM. */
@Module({ controllers: [VmsController], providers: [VmsService] })
export class VmsModule {}
