import { lstatSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DriverError, type VmSpec } from '../hypervisor-driver.port.js';
import { seedNetworkConfig } from '../kit/nocloud-network.js';
import { seedMetaData, wantsSeed } from '../kit/nocloud-seed.js';

/** Where cloud-init's NoCloud datasource looks inside a system container (as Incus/LXD seed it). */
export const CONTAINER_SEED_DIR = ['var', 'lib', 'cloud', 'seed', 'nocloud'] as const;

/**
 * A directory under `root`, made component by component: a root filesystem copied from an image
 * is the tenant's, so any component may be a symlink planted to point at the host's /etc. Each one
 * must be a real directory (or is created as one); a link anywhere is refused, never followed.
 */
function realDirUnder(root: string, parts: readonly string[]): string {
  let dir = root;
  for (const part of parts) {
    dir = join(dir, part);
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      mkdirSync(dir, { mode: 0o755 });
      continue;
    }
    if (!st.isDirectory() || st.isSymbolicLink()) {
      throw new DriverError('invalid', `the image's /${parts.join('/')} passes through ${dir}, not a directory`);
    }
  }
  return dir;
}

/**
 * Puts the NoCloud `user-data` and `meta-data` into the container's root filesystem (called on the
 * new root filesystem before its ownership is shifted into the container's id range), for a spec
 * with userData, sshKeys or NICs (then `network-config` too). A container has no disk to attach a seed to; cloud-init in a system
 * container reads this directory instead.
 */
export function writeContainerSeed(rootfs: string, spec: VmSpec): void {
  if (!wantsSeed(spec)) return;
  const dir = realDirUnder(rootfs, CONTAINER_SEED_DIR);
  const files: Array<[string, string]> = [
    ['user-data', spec.userData ?? '#cloud-config\n'],
    ['meta-data', seedMetaData(spec)],
  ];
  if (spec.nics?.length) files.push(['network-config', seedNetworkConfig(spec.nics)]);
  for (const [name, content] of files) {
    const file = join(dir, name);
    // rm removes a planted link itself, never its target; 'wx' then refuses anything that reappears.
    rmSync(file, { force: true });
    writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
  }
}
