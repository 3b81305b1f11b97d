import { DomainError } from '../../domain/domain-error.js';
import type { VmState } from '../../domain/vm/vm.state.js';

/**
 * A libvirt disk-only snapshot is an external overlay of the VM's disk alone: its revert would
 * bring the disk back and not the attached volumes, so the libvirt driver refuses it while
 * volumes are attached. Known here before any event: a 422 naming `memory`. (A libvirt memory
 * snapshot is an internal one, which covers every qcow2 of the domain, volumes included; qemu
 * snapshots cover volumes either way.)
 */
export function refuseSnapshotMissingVolumes(driver: string, memory: boolean, state: VmState): void {
  const volumes = state.spec?.volumes ?? [];
  if (driver === 'container' && volumes.length > 0) {
    // A container snapshot is its root filesystem: a bind-mounted volume is not in it.
    throw new DomainError(
      'unsupported',
      `VM ${state.id ?? '?'} is a container with volumes attached (${volumes.map((v) => v.volumeId).join(', ')}): ` +
        'its snapshot would hold its root filesystem only, not the volumes; detach them first',
    );
  }
  if (driver !== 'libvirt' || memory || volumes.length === 0) return;
  throw new DomainError(
    'unsupported',
    `VM ${state.id ?? '?'} has volumes attached (${volumes.map((v) => v.volumeId).join(', ')}): a libvirt disk-only ` +
      'snapshot (and so any snapshot of a stopped libvirt VM) would leave them out; take a memory snapshot of the ' +
      'running VM, or detach them first',
    { fields: ['memory'] },
  );
}
