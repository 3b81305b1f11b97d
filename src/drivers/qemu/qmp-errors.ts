import { DriverError } from '../hypervisor-driver.port.js';
import { toDriverError, type ErrorMapper } from '../kit/driver-errors.js';
import { QmpError, QmpTimeoutError } from './qmp.client.js';

/** QMP's errors as DriverErrors: a timeout stays a timeout, and the user reads QEMU's own `desc`. */
export const qmpErrorMapper: ErrorMapper = (err, context) => {
  if (err instanceof QmpTimeoutError) return new DriverError('timeout', `${context}: ${err.message}`, { cause: err });
  if (err instanceof QmpError) return new DriverError('failed', `${context}: ${err.desc}`, { cause: err });
  return undefined;
};

/** toDriverError for code that talks QMP. */
export function qemuDriverError(err: unknown, context: string): DriverError {
  return toDriverError(err, context, qmpErrorMapper);
}
