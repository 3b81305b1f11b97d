import { Module } from '@nestjs/common';
import { VmsController } from './vms.controller.js';
import { VmsService } from './vms.service.js';
import { VmPlacement } from './vm-placement.js';

/** /v1/vms: lifecycle, snapshots, migration, history of one VM. */
@Module({ controllers: [VmsController], providers: [VmsService, VmPlacement] })
export class VmsModule {}
