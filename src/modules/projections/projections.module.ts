import { Module } from '@nestjs/common';
import { ProjectionsController } from './projections.controller.js';

/** /v1/projections: read models, their positions, and rebuilds. */
@Module({ controllers: [ProjectionsController] })
export class ProjectionsModule {}
