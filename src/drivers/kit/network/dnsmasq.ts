import { readFileSync } from 'node:fs';
import { runTool } from '../run-tool.js';

/**
 * One dnsmasq per (host, network), bound to the network's bridge only, answering DHCP for the
 * MACs in its hosts file and nobody else: on a shared overlay only the host that runs a VM
 * answers for it. DNS is off (`--port=0`): with `--no-resolv` it would have nothing to forward to.
 */
export interface DnsmasqConfig {
  bridge: string;
  /** `<base>,static,<netmask>,<lease>` is built from these. */
  base: string;
  netmask: string;
  hostsFile: string;
  pidFile: string;
  /** Announced to guests (DHCP option 26) when an overlay shrinks the MTU. */
  mtu?: number;
}

export function dnsmasqArgs(c: DnsmasqConfig): string[] {
  return [
    '--conf-file=/dev/null',
    '--port=0',
    '--bind-interfaces',
    `--interface=${c.bridge}`,
    '--except-interface=lo',
    `--dhcp-range=${c.base},static,${c.netmask},1h`,
    `--dhcp-hostsfile=${c.hostsFile}`,
    '--dhcp-ignore=tag:!known',
    '--dhcp-authoritative',
    '--leasefile-ro',
    '--no-resolv',
    '--no-hosts',
    `--pid-file=${c.pidFile}`,
    // Forced: clients rarely ask for the MTU option, and an overlay needs them to use it.
    ...(c.mtu ? [`--dhcp-option-force=option:mtu,${c.mtu}`] : []),
  ];
}

/** The pid of this network's dnsmasq when it runs (checked against its argv: pids are reused). */
export function dnsmasqPid(c: Pick<DnsmasqConfig, 'bridge' | 'pidFile'>): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(c.pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 1) return undefined;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes(`--interface=${c.bridge}`) && argv.includes(`--pid-file=${c.pidFile}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Starts dnsmasq (it daemonises once bound, so errors arrive here), or makes it re-read its hosts file. */
export async function ensureDnsmasq(c: DnsmasqConfig): Promise<void> {
  const pid = dnsmasqPid(c);
  if (pid !== undefined) {
    process.kill(pid, 'SIGHUP');
    return;
  }
  await runTool('dnsmasq', dnsmasqArgs(c), { timeoutMs: 10_000 });
}

export async function stopDnsmasq(c: Pick<DnsmasqConfig, 'bridge' | 'pidFile'>): Promise<void> {
  const pid = dnsmasqPid(c);
  if (pid === undefined) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5_000;
  while (dnsmasqPid(c) !== undefined) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
