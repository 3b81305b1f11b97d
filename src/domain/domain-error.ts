/**
 * Errors a decider throws. The HTTP layer maps codes to statuses; the result
 * consumer treats `already_recorded` as an idempotent success.
 */
export type DomainErrorCode =
  | 'not_found' // 404
  | 'conflict' // 409: illegal transition, busy, name taken
  | 'unsupported' // 422: the host's driver cannot do it
  | 'invalid' // 400: a rule the DTO cannot express
  | 'capacity' // 409: no room on the host
  | 'already_recorded'; // a result for a request that already has one

export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}
