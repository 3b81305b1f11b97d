import { Module } from '@nestjs/common';
import { OperationsController } from './operations.controller.js';
import { OperationCancel } from './operation-cancel.js';

/** /v1/operations: every operation, kept forever, long-polled until done. */
@Module({ controllers: [OperationsController], providers: [OperationCancel] })
export class OperationsModule {}
