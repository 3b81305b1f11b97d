import type { DomainState, DomainStatus } from '../hypervisor-driver.port.js';

/**
 * Maps `virsh domstate --reason` ("running (booted)", "shut off (crashed)", "paused (migration)")
 * onto the port's states. A domain whose QEMU died under it reads "shut off (crashed)" (or
 * "crashed (…)"): that is a crash, not a stop.
 */
export function parseDomstate(output: string): DomainStatus {
  const line = output.trim().split('\n')[0]?.trim() ?? '';
  const m = /^(.*?)\s*(?:\((.*)\))?$/.exec(line);
  const word = (m?.[1] ?? line).trim();
  const reason = (m?.[2] ?? '').trim();
  return { state: stateOf(word, reason), detail: reason ? `${word} (${reason})` : word };
}

export function stateOf(word: string, reason = ''): DomainState {
  switch (word) {
    case 'running':
    case 'idle':
    case 'blocked':
      return 'running'; // "running (migrated)" is a VM that arrived here and runs
    case 'paused':
      return reason === 'migration' || reason === 'post-copy' ? 'migrating' : 'paused';
    case 'shut off':
    case 'shutoff':
      return reason === 'crashed' || reason === 'failed' ? 'crashed' : 'stopped';
    case 'crashed':
      return 'crashed';
    case 'in shutdown':
    case 'shutdown':
      return 'running'; // still up until the guest finishes
    case 'pmsuspended':
      return 'paused';
    default:
      return 'unknown';
  }
}

export interface ListedDomain {
  name: string;
  state: DomainState;
  detail: string;
}

const LIST_LINE =
  /^\s*(\S+)\s+(.*\S)\s+(running|idle|blocked|paused|in shutdown|shut off|crashed|pmsuspended|dying|no state)\s*$/;

/** Parses the table of `virsh -q list --all` (Id, Name, State); names may contain spaces. */
export function parseDomainList(output: string): ListedDomain[] {
  const out: ListedDomain[] = [];
  for (const line of output.split('\n')) {
    const m = LIST_LINE.exec(line);
    if (!m) continue;
    out.push({ name: m[2]!, state: stateOf(m[3]!), detail: m[3]! });
  }
  return out;
}
