import type { NextFunction, Request, Response } from 'express';
import { errorBody } from './error-body.js';

/**
 * A request that carries a body must say it is JSON: the JSON parser skips any
 * other type, and the handler would then see an empty body and answer a 400
 * listing every rule of every field. A 415 naming the expected type says what
 * is really wrong. Requests without a body (a bare POST /start) pass as before.
 */
export function requireJsonBody(req: Request, res: Response, next: NextFunction): void {
  if (!carriesBody(req) || isJson(req.headers['content-type']) || takesBytes(req)) return next();
  const got = req.headers['content-type'];
  const body = errorBody(
    415,
    `request body must be application/json (Content-Type: application/json), got ${got ? JSON.stringify(got) : 'no Content-Type'}`,
  );
  res.status(415).json(body);
}

function carriesBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const len = Number(req.headers['content-length'] ?? '0');
  return Number.isNaN(len) || len > 0;
}

/** `application/json` with any parameters (`; charset=utf-8`), case-insensitively. */
function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  return contentType.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** Routes whose body is bytes streamed by the handler, not JSON: an image upload (PUT /v1/images/{name}). */
function takesBytes(req: Request): boolean {
  return req.method === 'PUT' && /^\/v1\/images\/[^/?]+(\?|$)/.test(req.originalUrl);
}
