import { existsSync } from 'node:fs';
import { DriverError, type DomainState, type SnapshotInfo } from '../hypervisor-driver.port.js';
import { qemuDriverError } from './qmp-errors.js';
import { imageInfo, snapshotImage, type ImageSnapshot } from '../kit/qemu-img.js';
import type { QemuDomain } from './qemu-domain.js';
import { runQmpJob } from './qmp-jobs.js';
import { volumeImagePath, volumeNodeName } from '../kit/volume-files.js';

/**
 * The attached volumes a snapshot covers: each volume's qcow2 holds the snapshot of its own
 * blocks beside the disk's (a revert or delete touches the volumes that have that snapshot; one
 * attached later has none). `withTag`: only those whose image holds the snapshot.
 */
async function volumeImages(dom: QemuDomain, withTag?: string): Promise<{ node: string; path: string }[]> {
  const all = (dom.readSpec()?.volumes ?? []).map((v) => ({
    node: volumeNodeName(v),
    path: volumeImagePath(dom.host.storageDir, v),
  }));
  if (withTag === undefined) return all;
  const out: { node: string; path: string }[] = [];
  for (const v of all) {
    if (!existsSync(v.path)) continue;
    const info = await imageInfo(v.path, { forceShare: true });
    if ((info.snapshots ?? []).some((x) => x.name === withTag)) out.push(v);
  }
  return out;
}

const JOB_TIMEOUT_MS = 120_000;
/** Internal snapshots live in the qcow2 of disk0; the vmstate goes there too. */
const DISK_NODE = 'disk0';

/** Reads the snapshots from the image itself (force-share, so it works while QEMU runs), never from a cache. */
export async function listSnapshots(dom: QemuDomain): Promise<SnapshotInfo[]> {
  if (!existsSync(dom.paths.disk)) throw new DriverError('not_found', `VM ${dom.vmId} has no disk on this host`);
  const info = await imageInfo(dom.paths.disk, { forceShare: true });
  return (info.snapshots ?? []).map(toSnapshotInfo);
}

function toSnapshotInfo(s: ImageSnapshot): SnapshotInfo {
  const info: SnapshotInfo = {
    name: s.name,
    memory: s['vm-state-size'] > 0,
    createdAt: new Date(s['date-sec'] * 1000 + Math.floor(s['date-nsec'] / 1e6)).toISOString(),
  };
  if (s['vm-state-size'] > 0) info.sizeBytes = s['vm-state-size'];
  return info;
}

async function find(dom: QemuDomain, name: string): Promise<SnapshotInfo | undefined> {
  return (await listSnapshots(dom)).find((s) => s.name === name);
}

/**
 * Memory snapshot of a live VM: the `snapshot-save` job (vmstate + disk in the qcow2). Disk-only
 * of a live VM: `blockdev-snapshot-internal-sync` (crash-consistent, no pause). A VM that is not
 * running gets `qemu-img snapshot -c`, and so has no memory in it whatever was asked.
 */
export async function takeSnapshot(dom: QemuDomain, name: string, memory: boolean): Promise<SnapshotInfo> {
  const existing = await find(dom, name);
  const live = dom.livePid() !== undefined;
  if (existing) {
    // A stopped VM's "memory" snapshot is disk-only, so a retry of that request finds memory=false.
    if (existing.memory ? !memory : memory && live) {
      throw new DriverError(
        'conflict',
        `snapshot ${name} of ${dom.vmId} exists with memory=${existing.memory}; choose another name`,
      );
    }
    return existing; // a retried request must not fail on its own first success
  }
  const volumes = await volumeImages(dom);
  const devices = [DISK_NODE, ...volumes.map((v) => v.node)];
  try {
    if (live) {
      const status = await dom.queryStatus();
      if (status.status === 'inmigrate' || status.status === 'postmigrate') {
        throw new DriverError('conflict', `VM ${dom.vmId} is migrating (${status.status})`);
      }
      if (memory) {
        await dom.qmp((c) =>
          runQmpJob(
            c,
            'snapshot-save',
            { tag: name, vmstate: DISK_NODE, devices },
            {
              timeoutMs: JOB_TIMEOUT_MS,
            },
          ),
        );
      } else {
        await dom.qmp(async (c) => {
          for (const device of devices) await c.execute('blockdev-snapshot-internal-sync', { device, name });
        });
      }
    } else {
      for (const v of volumes) await snapshotImage(v.path, 'create', name);
      await snapshotImage(dom.paths.disk, 'create', name);
    }
  } catch (err) {
    throw qemuDriverError(err, `snapshot ${name} of ${dom.vmId}`);
  }
  const taken = await find(dom, name);
  if (!taken) throw new DriverError('failed', `snapshot ${name} of ${dom.vmId} is not in the image after saving`);
  return taken;
}

/**
 * Memory snapshot: `snapshot-load` on the live VM, or a fresh QEMU started with `-loadvm` when
 * it is stopped; either way the VM ends running, as it was when saved. Disk-only snapshot: the
 * image can only be rewound offline (`loadvm` refuses disk-only snapshots), so a live VM is
 * stopped first and stays stopped.
 */
export async function revertSnapshot(dom: QemuDomain, name: string): Promise<DomainState> {
  const snap = await find(dom, name);
  if (!snap) throw new DriverError('not_found', `VM ${dom.vmId} has no snapshot ${name}`);
  const volumes = await volumeImages(dom, name);
  try {
    const live = dom.livePid() !== undefined;
    if (snap.memory && live) {
      await dom.qmp(async (c) => {
        await runQmpJob(
          c,
          'snapshot-load',
          { tag: name, vmstate: DISK_NODE, devices: [DISK_NODE, ...volumes.map((v) => v.node)] },
          {
            timeoutMs: JOB_TIMEOUT_MS,
          },
        );
        const status = await dom.queryStatus();
        if (status.status === 'paused') await c.execute('cont');
      });
    } else if (snap.memory) {
      await dom.launch(dom.requireSpec(), { loadvm: name });
    } else {
      if (live) await dom.terminate({ graceful: false, timeoutMs: 0 });
      for (const v of volumes) await snapshotImage(v.path, 'apply', name);
      await snapshotImage(dom.paths.disk, 'apply', name);
    }
  } catch (err) {
    throw qemuDriverError(err, `revert ${dom.vmId} to ${name}`);
  }
  return (await dom.status()).state;
}

export async function deleteSnapshot(dom: QemuDomain, name: string): Promise<void> {
  if (!existsSync(dom.paths.disk)) throw new DriverError('not_found', `VM ${dom.vmId} has no disk on this host`);
  if (!(await find(dom, name))) return;
  const volumes = await volumeImages(dom, name);
  const devices = [DISK_NODE, ...volumes.map((v) => v.node)];
  try {
    if (dom.livePid() !== undefined) {
      await dom.qmp((c) => runQmpJob(c, 'snapshot-delete', { tag: name, devices }, { timeoutMs: JOB_TIMEOUT_MS }));
    } else {
      for (const v of volumes) await snapshotImage(v.path, 'delete', name);
      await snapshotImage(dom.paths.disk, 'delete', name);
    }
  } catch (err) {
    throw qemuDriverError(err, `delete snapshot ${name} of ${dom.vmId}`);
  }
}
