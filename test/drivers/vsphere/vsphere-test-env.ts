import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostBinding } from '../../../src/drivers/hypervisor-driver.port.js';
import { SoapClient } from '../../../src/drivers/vsphere/soap-client.js';
import { VsphereInventory, vmName } from '../../../src/drivers/vsphere/inventory.js';
import { runTask } from '../../../src/drivers/vsphere/tasks.js';
import { parseVsphereUri, readPassword } from '../../../src/drivers/vsphere/vsphere-uri.js';
import { repoRoot } from '../qemu/qemu-test-env.js';

/** The simulator's inventory (govmomi's VPX model): one datacenter, a cluster of three hosts. */
export const DATACENTER = 'DC0';
export const CLUSTER = 'DC0_C0';
export const HOSTS = ['DC0_C0_H0', 'DC0_C0_H1', 'DC0_C0_H2'] as const;
export const DATASTORE = 'LocalDS_0';

const GOVMOMI_SIMULATOR = '/usr/share/gocode/src/github.com/vmware/govmomi/simulator';

/** A running vcsim: from .ci/services/vcsim.sh, started by CI (VCSIM_URL) or by the test file. */
export interface Vcsim {
  /** http://vl@127.0.0.1:<port>/sdk */
  url: string;
  passwordFile: string;
  stop(): void;
}

/** Why vcsim cannot run here, or undefined (VCSIM_URL given, or the simulator can be built). */
export function vcsimSkipReason(): string | undefined {
  if (process.env.VCSIM_URL) {
    return process.env.VCSIM_PASSWORD_FILE ? undefined : 'VCSIM_URL is set but VCSIM_PASSWORD_FILE is not';
  }
  const missing: string[] = [];
  if (spawnSync('go', ['version']).status !== 0) missing.push('golang-go');
  if (!existsSync(GOVMOMI_SIMULATOR)) missing.push('golang-github-vmware-govmomi-dev');
  if (missing.length === 0) return undefined;
  return `no vcsim (VMware's vSphere simulator): VCSIM_URL is unset and it cannot be built here (missing ${missing.join(', ')}; .ci/services/vcsim.sh builds and starts it in CI)`;
}

/** CI's simulator when VCSIM_URL is set, else one started now with the same script (and stopped by stop()). */
export function ensureVcsim(): Vcsim {
  if (process.env.VCSIM_URL && process.env.VCSIM_PASSWORD_FILE) {
    return { url: process.env.VCSIM_URL, passwordFile: process.env.VCSIM_PASSWORD_FILE, stop: () => undefined };
  }
  const dir = mkdtempSync(join(tmpdir(), 'vl-vcsim-'));
  const script = join(repoRoot(), '.ci', 'services', 'vcsim.sh');
  const out = execFileSync('bash', [script, 'start', dir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    // A cold build of the simulator takes minutes on a loaded 2-core machine.
    timeout: 600_000,
  });
  const env = Object.fromEntries([...out.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const));
  if (!env.VCSIM_URL || !env.VCSIM_PASSWORD_FILE) throw new Error(`vcsim.sh start printed no VCSIM_URL: ${out}`);
  return {
    url: env.VCSIM_URL,
    passwordFile: env.VCSIM_PASSWORD_FILE,
    stop: () => {
      execFileSync('bash', [script, 'stop', dir], { stdio: 'ignore', timeout: 60_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A vsphere:// URI for one simulator host; the password stays in its file. */
export function vsphereUri(sim: Vcsim, host: string, extra: Record<string, string> = {}): string {
  const u = new URL(sim.url);
  const q = new URLSearchParams({
    datacenter: DATACENTER,
    cluster: CLUSTER,
    host,
    datastore: DATASTORE,
    transport: 'http',
    passwordFile: sim.passwordFile,
    ...extra,
  });
  return `vsphere://${u.username}@${u.host}/?${q.toString()}`;
}

export function vsphereBinding(id: string, uri: string, storageDir: string): HostBinding {
  return { id, driver: 'vsphere', uri, storageDir };
}

/**
 * What an administrator does in vCenter behind the service's back: powers the VM off (the
 * nearest thing to a killed QEMU), in a session of its own.
 */
export async function powerOffFromOutside(uri: string, vmId: string): Promise<void> {
  const config = parseVsphereUri(uri);
  const soap = new SoapClient({
    sdkUrl: config.sdkUrl,
    user: config.user,
    password: () => readPassword(config),
    insecure: config.insecure,
    callTimeoutMs: 30_000,
  });
  try {
    const v = await new VsphereInventory(soap, config).findVm(vmId);
    if (!v) throw new Error(`no VM ${vmName(vmId)} in the simulator`);
    await runTask(soap, 'PowerOffVM_Task', v.ref, '', `power off ${vmId} from outside`, 30_000);
  } finally {
    await soap.logout();
  }
}
