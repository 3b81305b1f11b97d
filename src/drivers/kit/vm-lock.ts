import { toDriverError, type ErrorMapper } from './driver-errors.js';
import { KeyedLock } from './keyed-lock.js';

/**
 * One verb at a time per VM inside a driver instance (a redelivered job waits for the first
 * attempt), and whatever fails comes out as a DriverError naming the verb and the VM.
 */
export class VmLock {
  private readonly lock = new KeyedLock();

  /** `mapError`: the driver's translation of its transport's errors (see toDriverError). */
  constructor(private readonly mapError?: ErrorMapper) {}

  async run<T>(vmId: string, verb: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.lock.run(vmId, fn);
    } catch (err) {
      throw toDriverError(err, `${verb} ${vmId}`, this.mapError);
    }
  }
}
