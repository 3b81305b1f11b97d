import { DriverError } from '../hypervisor-driver.port.js';

/**
 * A driver's own translation of the errors its transport throws (QMP, …), so kit stays
 * ignorant of every transport; undefined means "not one of mine", and the generic mapping applies.
 */
export type ErrorMapper = (err: unknown, context: string) => DriverError | undefined;

/** Maps anything thrown below the driver to a DriverError that keeps the hypervisor's own words. */
export function toDriverError(err: unknown, context: string, mapper?: ErrorMapper): DriverError {
  if (err instanceof DriverError) return err;
  const mapped = mapper?.(err, context);
  if (mapped) return mapped;
  const message = err instanceof Error ? err.message : String(err);
  return new DriverError('failed', `${context}: ${message}`, { cause: err });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
