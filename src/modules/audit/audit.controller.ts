import { Controller, Get, Inject, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiAnswer } from '../../http/openapi/decorators.js';
import { VerifyResponse } from './dto/audit.response.js';
import { vmStream } from '../../domain/streams.js';
import { StreamNotFoundError } from '../../eventstore/errors.js';
import { verifyChain, type ChainBreak } from '../../eventstore/hash-chain.js';
import type { LogVerifyReport } from '../../eventstore/seals/problems.js';
import type { SealAudit } from '../../eventstore/seals/seal-audit.js';
import type { Logger } from 'pino';
import type { EventStore } from '../../eventstore/event-store.port.js';
import { EVENT_STORE, LOGGER, READ_MODELS, SEAL_AUDIT } from '../../http/tokens.js';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { AUDITORS, Roles, type Principal } from '../../http/auth/roles.js';
import type { ReadModels } from '../../projections/read-models.js';
import { parsePosition } from '../../http/query.js';
import { parseEventFilter } from './event-filter.js';
import { streamScope } from './event-scope.js';
import { exportLine } from './export-line.js';

export interface VerifyReport {
  verified: boolean;
  count: number;
  streams: number;
  firstBreak: null | { streamId: string; revision: number; expected: string; found: string };
  /** Whole-log only: the first problem by kind, the seals, the events after the last seal. */
  problem?: LogVerifyReport['problem'];
  seals?: LogVerifyReport['seals'];
  unsealed?: number;
}

function breakView(b: ChainBreak | null): VerifyReport['firstBreak'] {
  return b ? { streamId: b.streamId, revision: Number(b.revision), expected: b.expected, found: b.found } : null;
}

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class AuditController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(SEAL_AUDIT) private readonly seals: SealAudit,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
  ) {}

  /** Recomputes the hash chain of one VM's stream, or of every stream in log order. */
  @ApiAnswer('Verify the hash chains (one stream, or the whole log with its seals)', VerifyResponse)
  @Get('verify')
  @Roles(...AUDITORS)
  async verify(
    @CurrentPrincipal() p: Principal,
    @Query('vmId') vmId?: string,
    @Query('streamId') streamId?: string,
  ): Promise<VerifyReport> {
    const store = this.store;
    const one = streamId ?? (vmId ? vmStream(vmId) : undefined);
    if (one) {
      const missing: VerifyReport = { verified: true, count: 0, streams: 0, firstBreak: null };
      // A stream a scoped auditor may not read answers as a missing one: its length is no oracle.
      const visible = streamScope(p, this.readModels);
      if (visible && !(await visible(one))) return missing;
      try {
        const events = await store.readStream(one);
        const b = verifyChain(events);
        // As for the whole log: count the events that verified, i.e. those before the break.
        return { verified: !b, count: b ? Number(b.revision) : events.length, streams: 1, firstBreak: breakView(b) };
      } catch (err) {
        if (err instanceof StreamNotFoundError) return missing;
        throw err;
      }
    }
    // One pass over the whole log: the v1 chain fields plus the seals' verdict (problem, seals, unsealed).
    return this.seals.verify();
  }

  /**
   * The log (or one VM's stream, or a position range, both inclusive) as NDJSON:
   * one event per line exactly as stored (data not upcast), with the chain.
   */
  @ApiOperation({ summary: 'Export the log as NDJSON, exactly as stored' })
  @ApiProduces('application/x-ndjson')
  @ApiResponse({
    status: 200,
    description: 'One stored event per line, with its chain metadata',
    content: { 'application/x-ndjson': { schema: { type: 'string' } } },
  })
  @Get('export')
  @Roles(...AUDITORS)
  async export(
    @CurrentPrincipal() p: Principal,
    @Req() req: Request,
    @Res() res: Response,
    @Query('vmId') vmId?: string,
    @Query('fromPosition') fromRaw?: string,
    @Query('toPosition') toRaw?: string,
  ): Promise<void> {
    const filter = parseEventFilter(vmId !== undefined ? { vmId } : {});
    const from = parsePosition(fromRaw, 'fromPosition');
    const to = parsePosition(toRaw, 'toPosition');
    const store = this.store;
    // A scoped auditor exports what it reads in /v1/events: its projects' VM and project streams.
    const visible = streamScope(p, this.readModels);
    res.status(200);
    res.setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    let closed = false;
    req.on('close', () => {
      closed = true;
    });
    let after = from !== undefined && from > 0n ? from - 1n : undefined;
    try {
      for (;;) {
        const page = await store.readAll({
          ...(after !== undefined ? { after } : {}),
          ...(filter.streamIds ? { streamPrefixes: filter.streamIds } : {}),
          maxCount: 1000,
        });
        if (page.length === 0 || closed) break;
        let done = false;
        let chunk = '';
        for (const e of page) {
          if (to !== undefined && e.position > to) {
            done = true;
            break;
          }
          const wanted = !filter.streamIds || filter.streamIds.includes(e.streamId);
          if (wanted && (!visible || (await visible(e.streamId)))) chunk += exportLine(e) + '\n';
          after = e.position;
        }
        if (chunk && !res.write(chunk))
          await new Promise<void>((r) => {
            res.once('drain', () => r());
            res.once('close', () => r());
          });
        if (done) break;
      }
    } catch (err) {
      this.log.warn({ err }, 'audit export failed');
      res.destroy(err as Error);
      return;
    }
    res.end();
  }
}
