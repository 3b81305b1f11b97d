import { DriverError, type ConsoleStream } from '../hypervisor-driver.port.js';
import { connectSocketConsole, fileTail } from '../kit/console-streams.js';
import type { QemuDomain } from './qemu-domain.js';

/**
 * The serial console of a running QEMU: its `-chardev socket,server=on,wait=off,logfile=…`
 * (qemu-args.ts). The log file keeps everything whether or not a client is attached; the socket
 * takes one client at a time, so the worker shares one connection among a VM's sessions.
 */
export async function openQemuConsole(dom: QemuDomain): Promise<ConsoleStream> {
  dom.requireSpec();
  if (dom.livePid() === undefined) throw new DriverError('conflict', `VM ${dom.vmId} is not running on this host`);
  try {
    return await connectSocketConsole(dom.paths.serialSocket);
  } catch (err) {
    throw new DriverError('failed', `the serial console of ${dom.vmId} did not accept: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export function qemuConsoleLog(dom: QemuDomain, maxBytes: number): Promise<Buffer> {
  dom.requireSpec();
  return fileTail(dom.paths.serialLog, maxBytes);
}
