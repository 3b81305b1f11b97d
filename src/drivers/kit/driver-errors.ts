import { DriverError } from '../hypervisor-driver.port.js';
import { QmpError, QmpTimeoutError } from '../qemu/qmp.client.js';

/** Maps anything thrown below the driver to a DriverError that keeps QEMU's own words. */
export function toDriverError(err: unknown, context: string): DriverError {
  if (err instanceof DriverError) return err;
  if (err instanceof QmpTimeoutError) return new DriverError('timeout', `${context}: ${err.message}`, { cause: err });
  if (err instanceof QmpError) return new DriverError('failed', `${context}: ${err.desc}`, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new DriverError('failed', `${context}: ${message}`, { cause: err });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
