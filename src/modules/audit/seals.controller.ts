import { ConflictException, Controller, Get, Inject, NotFoundException, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiAnswer } from '../../http/openapi/decorators.js';
import { EventProofResponse, SealKeyResponse, SealListResponse } from './dto/audit.response.js';
import type { EventProof } from '../../eventstore/seals/event-proof.js';
import type { SealAudit, SealKeyView, SealView } from '../../eventstore/seals/seal-audit.js';
import { ProofUnavailableError } from '../../eventstore/seals/store-audit.js';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { AUDITORS, Roles, type Principal } from '../../http/auth/roles.js';
import { errorBody } from '../../http/error-body.js';
import { parsePosition } from '../../http/query.js';
import { READ_MODELS, SEAL_AUDIT } from '../../http/tokens.js';
import type { ReadModels } from '../../projections/read-models.js';
import { streamScope } from './event-scope.js';

/** Signed seals over the log: the list, the public key to check them with, one event's inclusion proof. */
@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class SealsController {
  constructor(
    @Inject(SEAL_AUDIT) private readonly audit: SealAudit,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
  ) {}

  /** Every seal in the store, oldest first, each with its revision on `$seals` and its log position. */
  @ApiAnswer('List the signed seals over the log', SealListResponse)
  @Get('seals')
  @Roles(...AUDITORS)
  async seals(): Promise<{ seals: SealView[] }> {
    return { seals: await this.audit.seals() };
  }

  /** The public key seals are signed with (base64 SPKI DER and PEM). */
  @ApiAnswer('The public key seals are signed with', SealKeyResponse)
  @Get('seals/key')
  @Roles(...AUDITORS)
  key(): SealKeyView {
    return this.audit.key();
  }

  /** Inclusion proof of the event at `position` against the latest seal; checked offline by `virtledger audit proof`. */
  @ApiAnswer("An event's inclusion proof against the latest seal", EventProofResponse)
  @Get('proof')
  @Roles(...AUDITORS)
  async proof(@CurrentPrincipal() p: Principal, @Query('position') raw?: string): Promise<EventProof> {
    const position = parsePosition(raw, 'position');
    if (position === undefined) throw new NotFoundException(errorBody(404, 'give ?position= of a sealed event'));
    try {
      const proof = await this.audit.proof(position);
      // The proof carries the event whole: one a scoped auditor may not read answers as a missing one.
      const visible = streamScope(p, this.readModels);
      if (visible && !(await visible(proof.event.streamId)))
        throw new ProofUnavailableError(`no sealed event at position ${position}`, 'not-found');
      return proof;
    } catch (err) {
      if (!(err instanceof ProofUnavailableError)) throw err;
      if (err.reason === 'not-found') throw new NotFoundException(errorBody(404, err.message));
      throw new ConflictException(errorBody(409, err.message));
    }
  }
}
