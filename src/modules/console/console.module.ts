import { Module } from '@nestjs/common';
import { ConsoleController } from './console.controller.js';
import { ConsoleService } from './console.service.js';

/** /v1/vms/{id}/console: the serial console (WebSocket, wired onto the server by console-upgrade.ts), its log and tickets. */
@Module({ controllers: [ConsoleController], providers: [ConsoleService], exports: [ConsoleService] })
export class ConsoleModule {}
