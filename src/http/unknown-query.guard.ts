import { BadRequestException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { Request } from 'express';
import { errorBody } from './error-body.js';

interface RouteArg {
  index: number;
  data?: unknown;
}

/**
 * The query parameters a handler reads through `@Query('name')`, or undefined when
 * it takes the whole query (`@Query() dto`: the validation pipe refuses unknown
 * fields there). Read once per handler from the decorators' own metadata, so a
 * new `@Query('x')` is allowed with no list to keep in step.
 */
export function declaredQueryParams(
  controller: abstract new (...args: never[]) => unknown,
  handler: string,
): Set<string> | undefined {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler) ?? {}) as Record<string, RouteArg>;
  const names = new Set<string>();
  for (const [key, arg] of Object.entries(args)) {
    if (Number(key.split(':')[0]) !== RouteParamtypes.QUERY) continue;
    if (typeof arg.data !== 'string') return undefined;
    names.add(arg.data);
  }
  return names;
}

/**
 * A misspelt filter (`?staus=running`) silently ignored returns everything and
 * looks like an answer; refuse it with a 400 naming the parameter and what the
 * route accepts. The last global guard: after authentication, before the
 * interceptors (an `Idempotency-Key` claim) and the handler, so a refused query
 * has claimed and appended nothing. A guard rather than an interceptor: a route
 * with no interceptor skips Nest's RxJS chain on every request.
 */
@Injectable()
export class UnknownQueryGuard implements CanActivate {
  private readonly cache = new WeakMap<object, Set<string> | undefined>();

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const handler = context.getHandler();
    if (!this.cache.has(handler)) this.cache.set(handler, declaredQueryParams(context.getClass(), handler.name));
    const allowed = this.cache.get(handler);
    if (allowed) {
      const query = context.switchToHttp().getRequest<Request>().query;
      const unknown = Object.keys(query).filter((k) => !allowed.has(k));
      if (unknown.length) throw unknownParams(unknown, allowed);
    }
    return true;
  }
}

function unknownParams(unknown: string[], allowed: Set<string>): BadRequestException {
  const accepts = allowed.size ? `this route accepts: ${[...allowed].sort().join(', ')}` : 'this route takes none';
  const details = unknown.map((field) => ({ field, errors: [`${field} is not a query parameter of this route`] }));
  return new BadRequestException(
    errorBody(
      400,
      `unknown query parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: ${accepts}`,
      details,
    ),
  );
}
