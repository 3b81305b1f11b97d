import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AuthedRequest } from './auth.guard.js';
import type { Principal } from './roles.js';

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const req = ctx.switchToHttp().getRequest<AuthedRequest>();
  return req.principal ?? { role: 'viewer', id: 'anonymous', name: 'anonymous', projects: [] };
});
