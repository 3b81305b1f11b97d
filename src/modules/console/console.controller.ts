import { BadRequestException, Controller, Get, HttpCode, HttpException, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { ApiAnswer } from '../../http/openapi/decorators.js';
import { ConsoleService } from './console.service.js';
import { ConsoleLogResponse, ConsoleTicketResponse } from './dto/console.response.js';
import type { ConsoleLogView, ConsoleTicketView } from './console.view.js';

const MAX_TAIL = 5000;

function parseTail(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 100;
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_TAIL) {
    throw new BadRequestException(`tail must be an integer from 1 to ${MAX_TAIL}, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

/**
 * /v1/vms/{id}/console: the serial console (a WebSocket, served by console-upgrade.ts; this
 * GET answers only requests that did not ask to upgrade), its log, and tickets for browsers.
 */
@ApiTags('vms')
@ApiBearerAuth()
@Controller('v1/vms')
export class ConsoleController {
  constructor(private readonly consoles: ConsoleService) {}

  @ApiOperation({
    summary: "Attach to the VM's serial console (WebSocket)",
    description:
      'Send `Upgrade: websocket` with `Authorization: Bearer …`, or `?ticket=` from POST …/console/ticket (browsers). ' +
      'Binary frames carry console bytes both ways; text frames from the server are JSON notices ' +
      '(`{"type":"notice"|"closed","message"}`). Operators and admins type; other roles read only ' +
      '(their input is dropped with a notice). Opening and closing are recorded as ConsoleOpened/ConsoleClosed ' +
      'on the stream console-{id}.',
  })
  @ApiQuery({ name: 'ticket', required: false, description: 'A one-use ticket instead of the Authorization header' })
  @ApiResponse({ status: 101, description: 'Switching Protocols: the WebSocket is the console' })
  @ApiResponse({
    status: 426,
    description: 'Upgrade Required: the request did not ask for a WebSocket',
    schema: { $ref: '#/components/schemas/ErrorResponse' },
  })
  @Get(':id/console')
  @Roles(...READERS)
  async attach(
    @Param('id') id: string,
    @CurrentPrincipal() p: Principal,
    @Query('ticket') _ticket?: string,
  ): Promise<never> {
    await this.consoles.target(id, p);
    throw new HttpException(
      `GET /v1/vms/${id}/console is a WebSocket: send Connection: Upgrade and Upgrade: websocket ` +
        '(e.g. `virtledger vm console <id>`), or read the log at /console/log',
      426,
    );
  }

  @ApiAnswer('A one-use ticket to open the console WebSocket without headers (browsers)', ConsoleTicketResponse, {
    status: 201,
    description: 'Created: valid once, for 30 s',
  })
  @Post(':id/console/ticket')
  @HttpCode(201)
  @Roles(...READERS)
  async ticket(@Param('id') id: string, @CurrentPrincipal() p: Principal): Promise<ConsoleTicketView> {
    return this.consoles.ticket(id, p);
  }

  @ApiAnswer("The last lines of the VM's serial console log, read by its host's worker", ConsoleLogResponse)
  @ApiQuery({
    name: 'tail',
    required: false,
    description: `How many lines (default 100, at most ${MAX_TAIL}; the log is read up to 256 KiB from its end)`,
    schema: { type: 'integer', minimum: 1, maximum: MAX_TAIL, default: 100 },
  })
  @Get(':id/console/log')
  @Roles(...READERS)
  async log(
    @Param('id') id: string,
    @CurrentPrincipal() p: Principal,
    @Query('tail') tail?: string,
  ): Promise<ConsoleLogView> {
    return this.consoles.logLines(id, p, parseTail(tail));
  }
}
