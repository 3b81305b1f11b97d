import { BadRequestException, NotFoundException, ParseUUIDPipe } from '@nestjs/common';
import type { Response } from 'express';
import type { Principal } from '../../http/auth/roles.js';
import { parseIfMatch } from '../../http/query.js';
import type { Accepted, CommandContext } from './vms.service.js';

// What every /v1/vms controller shares: the id pipe, a command's context and the 202 answer.

/** A VM id is a v4 UUID: anything else names no VM (404). */
export const vmId = new ParseUUIDPipe({
  version: '4',
  exceptionFactory: () => new NotFoundException('VM not found: the id is not a VM id'),
});

/** 202 + Location; the ETag is the VM's revision after the command (what GET /v1/vms/{id} shows once it is in). */
export function accepted(res: Response, a: Accepted): Accepted {
  res.status(202).location(`/v1/operations/${a.operationId}`);
  if (a.revision !== undefined) res.setHeader('ETag', `"${a.revision}"`);
  return { operationId: a.operationId, vmId: a.vmId };
}

export function commandContext(principal: Principal, reason: string | undefined, ifMatch?: string): CommandContext {
  return {
    principal,
    ...(reason ? { reason } : {}),
    ...(ifMatch !== undefined ? { ifMatch: parseIfMatch(ifMatch) } : {}),
  };
}

/** A `?reason=` (DELETE has no body) holds to the body's rule: at most 500 characters. */
export function checkReason(reason: string | undefined): string | undefined {
  if (reason !== undefined && reason.length > 500)
    throw new BadRequestException('reason must be shorter than or equal to 500 characters');
  return reason;
}
