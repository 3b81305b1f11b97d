import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, normalize, sep } from 'node:path';
import { DriverError } from '../hypervisor-driver.port.js';

/**
 * What an administrator allows a host URI to point at. Host URIs come from the API (an
 * admin's request), and their directories and transports reach the worker, which runs as root:
 * a `storage=/etc` would list /etc's folders to operators, a `busybox=/bin/sh` would choose what
 * runs as root, and a libvirt `+ext`/`command=` transport runs a program of the URI's choosing.
 */
export interface HostPolicy {
  /** Every directory a host URI names (storage=, images=, busybox=, …) must lie under one of these (realpath). */
  hostDirRoots: readonly string[];
  /** libvirt transports and parameters that run programs or skip verification; refused unless true. */
  allowUnsafeLibvirtUris: boolean;
}

/** The longest existing ancestor's real path, plus the rest: a storage dir that is not made yet is still judged. */
function realpathOfExisting(path: string): string {
  let head = normalize(path);
  const rest: string[] = [];
  for (;;) {
    try {
      const real = realpathSync(head);
      return rest.length === 0 ? real : `${real === sep ? '' : real}${sep}${rest.reverse().join(sep)}`;
    } catch {
      if (head === dirname(head)) return normalize(path);
      rest.push(head.slice(dirname(head).length).replace(/^\/+/, ''));
      head = dirname(head);
    }
  }
}

/** Refuses `param=value` (an absolute path) unless it lies in, or is, one of the policy's roots. */
export function assertUnderHostDirRoots(param: string, value: string, policy: HostPolicy | undefined): void {
  if (!policy) return;
  const real = isAbsolute(value) ? realpathOfExisting(value) : value;
  const inside = policy.hostDirRoots.some((root) => {
    const r = realpathOfExisting(root);
    return real === r || real.startsWith(r === sep ? r : `${r}${sep}`);
  });
  if (!inside) {
    throw new DriverError(
      'invalid',
      `${param}=${value} is outside the directories hosts may use (HOST_DIR_ROOTS: ${policy.hostDirRoots.join(', ') || 'none'})`,
    );
  }
}
