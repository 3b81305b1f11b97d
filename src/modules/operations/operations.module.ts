import { Module } from '@nestjs/common';
import { OperationsController } from './operations.controller.js';

/** /v1/operations: every operation, kept forever, long-polled until done. */
@Module({ controllers: [OperationsController] })
export class OperationsModule {}
