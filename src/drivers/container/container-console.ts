import { existsSync } from 'node:fs';
import { DriverError, type ConsoleStream } from '../hypervisor-driver.port.js';
import { fileTail, openFifoLogConsole } from '../kit/console-streams.js';
import type { ContainerDomain } from './container-domain.js';

/**
 * A container's console is its init's stdio: keystrokes into the stdin FIFO made at launch
 * (container-launch.ts), output followed in the console log runc copies stdout and stderr to.
 * No pty: an init that is a shell reads commands line by line and echoes nothing itself.
 */
export function openContainerConsole(dom: ContainerDomain): ConsoleStream {
  dom.requireSpec();
  const { state } = dom.status();
  if (state !== 'running' && state !== 'paused') {
    throw new DriverError('conflict', `VM ${dom.vmId} is not running on this host (${state})`);
  }
  if (!existsSync(dom.paths.consoleIn)) {
    throw new DriverError('unsupported', `container ${dom.vmId} was started without a console input; restart it`);
  }
  try {
    return openFifoLogConsole(dom.paths.consoleIn, dom.paths.console);
  } catch (err) {
    throw new DriverError('failed', `cannot attach to the console of ${dom.vmId}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export function containerConsoleLog(dom: ContainerDomain, maxBytes: number): Promise<Buffer> {
  dom.requireSpec();
  return fileTail(dom.paths.console, maxBytes);
}
