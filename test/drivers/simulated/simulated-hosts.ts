import { after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DriverError, type DriverErrorCode, type VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import { SimulatedDriver } from '../../../src/drivers/simulated/simulated.driver.js';
import { tempDir } from '../../support/env.js';

/**
 * Simulated hosts for one test file: each host's storage in a directory of its own under one
 * temporary directory (removed after the file), each VM with an id of its own, so no two cases
 * of the file ever see each other's domains.
 */
export function simulatedHosts(tmpPrefix: string): {
  /** The temporary directory, for a case that places a host's storage itself. */
  dir: string;
  driver(uri?: string, storageDir?: string): SimulatedDriver;
  spec(): VmSpec;
} {
  const tmp = tempDir(tmpPrefix);
  after(() => tmp.cleanup());
  let hostCounter = 0;
  let vmCounter = 0;
  return {
    dir: tmp.dir,
    driver(uri = 'simulated://', storageDir?: string): SimulatedDriver {
      const id = `h${++hostCounter}`;
      const dir = storageDir ?? join(tmp.dir, id);
      mkdirSync(dir, { recursive: true });
      return new SimulatedDriver({ id, driver: 'simulated', uri, storageDir: dir });
    },
    spec(): VmSpec {
      return { id: `vm-${++vmCounter}`, name: 'web', vcpus: 2, memoryMiB: 512, diskGiB: 4 };
    },
  };
}

export async function rejectsWith(p: Promise<unknown>, code: DriverErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DriverError, `expected a DriverError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}
