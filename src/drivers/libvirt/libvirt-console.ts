import { DriverError, type CallContext, type ConsoleStream, type VmSpec } from '../hypervisor-driver.port.js';
import { openPtyConsole, fileTail } from '../kit/console-streams.js';
import type { LibvirtHost } from './libvirt-host.js';

/**
 * The serial console of a libvirt domain: `<serial type='pty'>` (domain-xml.ts), whose pty
 * `virsh ttyconsole` names. `virsh console` itself insists on a controlling terminal, so the
 * worker opens the pty the way libvirtd's console stream does; QEMU keeps it in raw mode.
 * The pty is on the machine libvirtd runs on: a remote URI has no console here.
 */
export async function openLibvirtConsole(host: LibvirtHost, spec: VmSpec, ctx: CallContext): Promise<ConsoleStream> {
  const name = host.domainName(spec.id);
  const { state } = await host.domstate(spec.id, ctx);
  if (state !== 'running' && state !== 'paused') {
    throw new DriverError('conflict', `VM ${spec.id} is not running on this host (${state})`);
  }
  const tty = (await host.v(['ttyconsole', name], ctx)).trim();
  // Only a pty path: whatever libvirt answers is opened by a root worker, so it must be one.
  if (!/^\/dev\/pts\/\d+$/.test(tty)) {
    throw new DriverError(
      'unsupported',
      `domain ${name} has no local pty console (virsh ttyconsole: ${tty || 'none'})`,
    );
  }
  try {
    return openPtyConsole(tty);
  } catch (err) {
    throw new DriverError(
      'unsupported',
      `cannot open the console pty ${tty} of ${name} (a remote libvirt's pty is not on this machine): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export function libvirtConsoleLog(host: LibvirtHost, spec: VmSpec, maxBytes: number): Promise<Buffer> {
  return fileTail(host.files(spec.id).consoleLog, maxBytes);
}
