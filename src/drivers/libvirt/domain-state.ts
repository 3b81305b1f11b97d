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

/** virDomainState numbers, as `virsh domstats --state` prints them. */
const STATE_WORDS = ['no state', 'running', 'blocked', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended'];
/** Reason words of the states whose reason changes our reading (virDomainShutoffReason, virDomainPausedReason). */
const SHUTOFF_REASONS = [
  'unknown',
  'shutdown',
  'destroyed',
  'crashed',
  'migrated',
  'saved',
  'failed',
  'from snapshot',
  'daemon',
];
const PAUSED_REASONS = [
  'unknown',
  'user',
  'migration',
  'save',
  'dump',
  'ioerror',
  'watchdog',
  'from snapshot',
  'shutdown',
  'snapshot',
  'crashed',
  'starting up',
  'post-copy',
  'post-copy failed',
];

/**
 * Parses `virsh domstats --state` (every domain, one virsh call): `Domain: 'name'` then
 * `state.state=N` and `state.reason=M`. Reads the same as `domstate --reason` of each domain,
 * so listDomains and status never disagree on a crashed VM.
 */
export function parseDomstats(output: string): ListedDomain[] {
  const out: ListedDomain[] = [];
  let current: { name: string; state?: number; reason?: number } | undefined;
  const flush = () => {
    if (!current || current.state === undefined) return;
    const word = STATE_WORDS[current.state] ?? 'no state';
    const table = current.state === 5 ? SHUTOFF_REASONS : current.state === 3 ? PAUSED_REASONS : undefined;
    const reason = table && current.reason !== undefined ? table[current.reason] : undefined;
    const status = parseDomstate(reason ? `${word} (${reason})` : word);
    out.push({ name: current.name, state: status.state, detail: status.detail ?? word });
  };
  for (const line of output.split('\n')) {
    const dom = /^Domain: '(.*)'\s*$/.exec(line);
    if (dom) {
      flush();
      current = { name: dom[1]! };
      continue;
    }
    const kv = /^\s*state\.(state|reason)=(\d+)\s*$/.exec(line);
    if (kv && current) current[kv[1] as 'state' | 'reason'] = Number(kv[2]);
  }
  flush();
  return out;
}
