import { Module } from '@nestjs/common';
import { VmsController } from './vms.controller.js';
import { VmsService } from './vms.service.js';
import { VmPlacement } from './vm-placement.js';
import { VmResizeService } from './vm-resize.service.js';
import { VmHistoryService } from './vm-history.service.js';

/** /v1/vms: lifecycle, snapshots, migration, history of one VM. */
@Module({ controllers: [VmsController], providers: [VmsService, VmPlacement, VmResizeService, VmHistoryService] })
export class VmsModule {}
