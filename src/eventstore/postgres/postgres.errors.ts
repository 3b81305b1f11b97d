import { UnavailableError } from '../errors.js';

/** Socket-level failures: the server is down, unreachable or dropped us. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** SQLSTATEs meaning "the database cannot serve you right now" rather than "your request is wrong". */
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovery)
  '53300', // too_many_connections
  '53100', // disk_full
  '53200', // out_of_memory
  '58030', // io_error
  '25006', // read_only_sql_transaction: connected to a standby after failover
]);

/** node-postgres reports several connection losses as plain Errors without a code. */
const UNAVAILABLE_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /client has encountered a connection error/i,
  /client was closed and is not queryable/i,
  /cannot use a pool after calling end/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
];

function codeOf(err: object): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Walks AggregateError.errors (dual-stack connect attempts) and `cause` chains. */
function isUnavailable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 5) return false;
  const code = codeOf(err);
  if (code !== undefined && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'))) {
    return true;
  }
  if (err instanceof Error && UNAVAILABLE_MESSAGES.some((re) => re.test(err.message))) return true;
  if (err instanceof AggregateError && err.errors.some((e: unknown) => isUnavailable(e, depth + 1))) return true;
  return err instanceof Error && err.cause !== undefined && isUnavailable(err.cause, depth + 1);
}

export function isConnectionError(err: unknown): boolean {
  return isUnavailable(err);
}

export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && codeOf(err) === '23505';
}

export function mapPgError(err: unknown, where: string): unknown {
  if (err instanceof UnavailableError || !isUnavailable(err)) return err;
  const code = typeof err === 'object' && err !== null ? codeOf(err) : undefined;
  const detail = err instanceof Error && err.message ? err.message : String(err);
  return new UnavailableError(`PostgreSQL event store ${where} unavailable (${code ?? 'connection lost'}: ${detail})`, {
    cause: err,
  });
}
