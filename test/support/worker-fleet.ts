/**
 * Real worker processes (`dist/src/main.js --role worker --host <id>`) beside a test
 * app, for the process tests that kill them (-9, a dead machine) and watch what the
 * control plane does: heartbeats, unreachable, fencing, healing, migrations. Also
 * what those tests ask of the hosts afterwards: the driver's own domain listing and,
 * on real QEMU, the pids of the guests.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestApp } from './app.js';
import { testRedisUrl } from './env.js';
import { waitFor } from './wait.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../src/main.js');

/** One domain as `GET /v1/hosts/{id}/domains` lists it (the driver's own view). */
export interface Domain {
  vmId: string;
  managed: boolean;
  state: string;
  pid?: number;
}

/** Worker processes of one test app's Redis and data dir, every one of them killed at the end. */
export class WorkerFleet {
  private readonly children: ChildProcess[] = [];

  /**
   * `app`: the test app the workers join (a function: the app starts in `before`, the
   * fleet is declared beside it). `env`: what every worker of this fleet gets.
   */
  constructor(
    private readonly app: () => Pick<TestApp, 'redisPrefix' | 'dataDir'>,
    private readonly env: Record<string, string> = {},
  ) {}

  /** A worker serving `hostId`; `env` adds to (or overrides) the fleet's. */
  start(hostId: string, env: Record<string, string> = {}): ChildProcess {
    const t = this.app();
    const child = spawn(process.execPath, [MAIN, '--role', 'worker', '--host', hostId], {
      env: {
        PATH: process.env.PATH ?? '',
        REDIS_URL: testRedisUrl(),
        REDIS_PREFIX: t.redisPrefix,
        DATA_DIR: t.dataDir,
        HOST_DIR_ROOTS: `${tmpdir()},${process.cwd()}`,
        LOG_LEVEL: 'warn',
        ...this.env,
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    this.children.push(child);
    return child;
  }

  /**
   * kill -9 every worker still running (a test's `after`), and with `dir` every
   * process whose command line names it: the QEMUs on that storage outlive their workers.
   */
  killAll(dir?: string): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (dir) killProcessesUnder(dir);
  }
}

/**
 * Waits for a heartbeat from each host's worker. The deadline is generous: a worker
 * process loads the whole app before its first beat, which takes long on a busy machine.
 */
export async function heartbeatsFrom(t: TestApp, hostIds: string[], timeoutMs = 90000): Promise<void> {
  for (const h of hostIds) {
    await waitFor(async () => (await t.runtime.hub.heartbeats())[h], { what: `a heartbeat from ${h}`, timeoutMs });
  }
}

/** What host `hostId`'s driver runs, asked of its worker through the API. */
export async function domains(t: TestApp, hostId: string): Promise<Domain[]> {
  const res = await t.as('operator').get(`/v1/hosts/${hostId}/domains`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.items as Domain[];
}

/** Whether host `hostId`'s driver runs the VM (a managed domain in state running). */
export async function runningOn(t: TestApp, hostId: string, vmId: string): Promise<boolean> {
  return (await domains(t, hostId)).some((d) => d.vmId === vmId && d.managed && d.state === 'running');
}

/** The pid of host `hostId`'s QEMU for a VM, from its run dir on the storage the hosts share. */
export function qemuPid(sharedDir: string, hostId: string, vmId: string): number {
  const run = JSON.parse(readFileSync(join(sharedDir, vmId, `run-${hostId}`, 'run.json'), 'utf8')) as {
    pid: number;
  };
  return run.pid;
}

/** Alive and not a zombie (a QEMU whose worker died is reparented, maybe to a PID 1 that never reaps). */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** kill -9 every process whose command line names `dir`. */
function killProcessesUnder(dir: string): void {
  for (const line of spawnSync('pgrep', ['-f', dir]).stdout.toString().split('\n')) {
    const pid = Number(line);
    if (pid > 0) spawnSync('kill', ['-9', String(pid)]);
  }
}
