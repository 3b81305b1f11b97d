import { createReadStream, createWriteStream, renameSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { DriverError, type CallContext } from '../hypervisor-driver.port.js';
import { qemuDriverError } from './qmp-errors.js';
import type { ColdEndpoint } from './migration-endpoint.js';
import type { QemuDomain } from './qemu-domain.js';
import { removeFile } from '../kit/vm-files.js';
import { Deadline, report } from './migration-deadline.js';

/**
 * Cold: the VM is stopped, so its qcow2 (internal snapshots included) is copied as a file to the
 * path the target reserved, via a `.part` name so the target never sees half a disk. The target
 * path must be reachable from here (same machine or a mount). A disk overlaid on a base image
 * keeps pointing at that base by absolute path, which must exist on the target too.
 */
export async function coldMigrate(dom: QemuDomain, e: ColdEndpoint, shared: boolean, ctx: CallContext): Promise<void> {
  if (dom.livePid() !== undefined) {
    throw new DriverError('conflict', `VM ${dom.vmId} is running; a cold migration needs it stopped`);
  }
  if (!dom.isDefined()) throw new DriverError('not_found', `VM ${dom.vmId} is not defined on this host`);
  if (shared) return; // the target sees these very files
  if (e.diskExisted) {
    throw new DriverError('conflict', `the target already has a disk for ${dom.vmId}; refusing to overwrite it`);
  }
  const deadline = new Deadline(dom.host.config.migrationTimeoutMs, ctx.signal);
  const part = `${e.diskPath}.part`;
  try {
    report(ctx, { message: 'copying disk', percent: 0 });
    await pipeline(createReadStream(dom.paths.disk), createWriteStream(part, { mode: 0o600 }), {
      signal: deadline.asSignal(),
    });
    renameSync(part, e.diskPath);
    report(ctx, { message: 'disk copied', percent: 100 });
  } catch (err) {
    removeFile(part);
    deadline.check('cold migration');
    throw qemuDriverError(err, `copy the disk of ${dom.vmId}`);
  }
  dom.removeAllFiles();
}
