import { Module } from '@nestjs/common';
import { VmsController } from './vms.controller.js';
import { VmLifecycleController } from './vm-lifecycle.controller.js';
import { VmSnapshotsController } from './vm-snapshots.controller.js';
import { VmHistoryController } from './vm-history.controller.js';
import { VmsService } from './vms.service.js';
import { VmPlacement } from './vm-placement.js';
import { VmResizeService } from './vm-resize.service.js';
import { VmHistoryService } from './vm-history.service.js';

/** /v1/vms: lifecycle, snapshots, migration, history of one VM (one controller per concern, one set of services). */
@Module({
  controllers: [VmsController, VmHistoryController, VmLifecycleController, VmSnapshotsController],
  providers: [VmsService, VmPlacement, VmResizeService, VmHistoryService],
})
export class VmsModule {}
