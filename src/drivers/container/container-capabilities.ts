import type { DriverCapabilities } from '../hypervisor-driver.port.js';
import { canFreeze, detectHierarchies } from './cgroup-hierarchies.js';
import { parseContainerUri } from './container-uri.js';
import { canGrowOnline } from './disk-image.js';

/**
 * What a `container` host can do, from its URI and the machine's cgroup mounts (read, never
 * written): no live migration and no memory snapshots (both need CRIU, broken on this kernel);
 * pause only where a freezer exists.
 */
export function containerCapabilities(uri: string): DriverCapabilities {
  const config = parseContainerUri(uri);
  return {
    liveMigration: false,
    coldMigration: true,
    memorySnapshots: false,
    diskSnapshots: true,
    pause: canFreeze(detectHierarchies(config.cgroupParent)),
    reboot: true,
    hardwareAcceleration: false,
    // cgroup limits are rewritten live both ways; the ext4 root disk grows online where the kernel
    // lets this process (CAP_SYS_RESOURCE; a sandbox without it grows the disk at the next start).
    hotResize: { vcpus: 'any', memory: 'any', diskGrow: canGrowOnline() },
  };
}
