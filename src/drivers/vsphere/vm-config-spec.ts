import type { VmSpec } from '../hypervisor-driver.port.js';
import { el, textEl, typedEl } from './xml.js';

/**
 * CreateVM_Task's VirtualMachineConfigSpec for a VmSpec: name, sizes, one thin disk on a
 * paravirtual SCSI controller. Element order follows the vim25 schema (real vCenter checks it).
 * The controller and disk get negative (temporary) keys: vSphere assigns real ones.
 */
export function configSpecXml(spec: VmSpec, vmName: string, datastoreName: string): string {
  const controller = el(
    'deviceChange',
    textEl('operation', 'add') +
      typedEl(
        'device',
        'ParaVirtualSCSIController',
        textEl('key', -100) + textEl('busNumber', 0) + textEl('sharedBus', 'noSharing'),
      ),
  );
  const backing = typedEl(
    'backing',
    'VirtualDiskFlatVer2BackingInfo',
    textEl('fileName', `[${datastoreName}] ${vmName}/${vmName}.vmdk`) +
      textEl('diskMode', 'persistent') +
      textEl('thinProvisioned', true),
  );
  const disk = el(
    'deviceChange',
    textEl('operation', 'add') +
      textEl('fileOperation', 'create') +
      typedEl(
        'device',
        'VirtualDisk',
        textEl('key', -101) +
          backing +
          textEl('controllerKey', -100) +
          textEl('unitNumber', 0) +
          textEl('capacityInKB', Math.ceil(spec.diskGiB * 1024 * 1024)),
      ),
  );
  return el(
    'config',
    textEl('name', vmName) +
      textEl('guestId', 'otherGuest64') +
      // Why the VM exists, for an operator looking at vCenter; the id is what the driver matches on.
      textEl('annotation', `virtledger VM ${spec.id} (${spec.name})`) +
      el('files', textEl('vmPathName', `[${datastoreName}]`)) +
      textEl('numCPUs', spec.vcpus) +
      textEl('memoryMB', spec.memoryMiB) +
      controller +
      disk,
  );
}
