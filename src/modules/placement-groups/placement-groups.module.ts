import { Module } from '@nestjs/common';
import { PlacementGroupsController } from './placement-groups.controller.js';
import { PlacementGroupsService } from './placement-groups.service.js';

/** /v1/placement-groups: affinity and anti-affinity rules VMs join at create. */
@Module({ controllers: [PlacementGroupsController], providers: [PlacementGroupsService] })
export class PlacementGroupsModule {}
