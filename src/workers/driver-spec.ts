import type { VmSpec } from '../drivers/hypervisor-driver.port.js';
import type { VmSpecData } from '../domain/vm/vm.types.js';

/**
 * The domain's spec as the driver port takes it. Named field by field: a field added on one
 * side reaches a driver only when it is mapped here, on purpose.
 */
export function driverSpec(id: string, data: VmSpecData): VmSpec {
  const { name, vcpus, memoryMiB, diskGiB, maxVcpus, maxMemoryMiB, image, userData, sshKeys, nics, volumes } = data;
  return {
    id,
    name,
    vcpus,
    memoryMiB,
    diskGiB,
    ...(maxVcpus !== undefined ? { maxVcpus } : {}),
    ...(maxMemoryMiB !== undefined ? { maxMemoryMiB } : {}),
    ...(image !== undefined ? { image } : {}),
    ...(userData !== undefined ? { userData } : {}),
    ...(sshKeys !== undefined ? { sshKeys: [...sshKeys] } : {}),
    ...(nics?.length ? { nics: nics.map((n) => ({ ...n })) } : {}),
    ...(volumes?.length
      ? { volumes: volumes.map(({ volumeId, name: n, sizeGiB }) => ({ volumeId, name: n, sizeGiB })) }
      : {}),
  };
}
