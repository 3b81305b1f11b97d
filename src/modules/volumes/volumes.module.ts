import { Module } from '@nestjs/common';
import { VmVolumesController } from './vm-volumes.controller.js';
import { VolumesController } from './volumes.controller.js';
import { VolumesService } from './volumes.service.js';

/** /v1/volumes and /v1/vms/{id}/volumes: volumes on volume-<id> streams, attached through the VM's operations. */
@Module({ controllers: [VolumesController, VmVolumesController], providers: [VolumesService] })
export class VolumesModule {}
