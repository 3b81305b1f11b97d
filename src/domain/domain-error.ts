/**
 * Errors a decider throws when it refuses a command. The HTTP layer maps codes
 * to statuses. A command already done is not an error: it decides no events.
 */
export type DomainErrorCode =
  | 'not_found' // 404
  | 'conflict' // 409: illegal transition, busy, name taken
  | 'unsupported' // 422: the host's driver cannot do it
  | 'invalid' // 400: a rule the DTO cannot express
  | 'capacity' // 409: no room on the host
  | 'quota'; // 429: the project's quota has no room (details: quota, used, requested, limit)

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
