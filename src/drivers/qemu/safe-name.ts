import { DriverError } from '../hypervisor-driver.port.js';

/**
 * Everything that reaches a path, a QMP argument or an HMP command line must match this:
 * no slash, no dot-dot, no space or comma (QEMU option separators), no leading dash/dot.
 */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function assertSafeName(kind: string, value: string): string {
  if (typeof value !== 'string' || !SAFE_NAME.test(value)) {
    throw new DriverError('failed', `invalid ${kind} ${JSON.stringify(value)}: must match ${SAFE_NAME.source}`);
  }
  return value;
}
