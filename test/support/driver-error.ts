import assert from 'node:assert/strict';
import { DriverError } from '../../src/drivers/hypervisor-driver.port.js';

/** For `assert.rejects`: a DriverError with this code (and a message matching, when given). */
export function driverError(code: string, message?: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof DriverError, `expected DriverError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}
