import { existsSync, readFileSync, rmSync } from 'node:fs';
import { DriverError, type DomainStatus, type VmSpec } from '../hypervisor-driver.port.js';
import { errorMessage } from '../kit/driver-errors.js';
import { kernelBootOf } from '../kit/image-catalog.js';
import { ensureSeed } from '../kit/nocloud-seed.js';
import { qemuArgs } from './qemu-args.js';
import { waitForQmp } from './qmp-wait.js';
import {
  isOurQemu,
  listQemuProcesses,
  qemuStillExits,
  readCmdline,
  sendSignal,
  spawnQemu,
  waitUntilGone,
} from './qemu-process.js';
import { domainStateOf } from './qemu-status.js';
import { deadStatusOf, type StoppedMarker } from './qemu-dead-status.js';
import type { HostNetworks } from '../kit/network/host-networks.js';
import { launchVolumes } from './qemu-volumes.js';
import { tracePhase } from '../kit/phase-trace.js';
import { launchLayout, layoutArgs, writeLayout } from './qemu-hotplug-layout.js';
import type { QemuHostConfig } from './qemu-uri.js';
import type { QmpClient } from './qmp.client.js';
import type { QmpPool } from './qmp-pool.js';
import type { QmpMigrationInfo, QmpStatusInfo } from './qmp.types.js';
import {
  ensureDir,
  ensurePrivateDir,
  readJson,
  removeFile,
  vmPaths,
  writeJsonAtomic,
  type RunInfo,
  type StoredSpec,
  type VmPaths,
} from '../kit/vm-files.js';

/** What every domain of one driver instance shares. */
export interface HostContext {
  storageDir: string;
  /** The image catalog: where `spec.image` may point (image-catalog.ts). */
  imagesDirs: string[];
  hostKey: string;
  config: QemuHostConfig;
  accel: 'kvm' | 'tcg';
  pool: QmpPool;
  /** Bridges, taps, DHCP and NAT of the networks this host's VMs are on. */
  networks: HostNetworks;
}

export interface LaunchOptions {
  incoming?: boolean;
  startPaused?: boolean;
  loadvm?: string;
}

export interface LaunchHooks<T> {
  spawned?: () => void;
  ready?: (client: QmpClient) => Promise<T>;
}

export type TerminateOutcome = 'not-running' | 'acpi' | 'quit' | 'kill';

/** The process that answers QMP may need a while under a loaded TCG host; this bounds start. */
const START_TIMEOUT_MS = 30_000;
const QUIT_WAIT_MS = 10_000;
const KILL_WAIT_MS = 5_000;
/**
 * Step of the wait for a quit QEMU to be gone: its exit frees the disk lock the next owner needs.
 * A quit QEMU is gone within a few ms (the direct bench's quit: ~3 ms); a 10 ms step made a
 * migration's source wait ~10 ms for it. Each look reads two /proc files.
 */
const EXIT_POLL_MS = 2;
const OUTGOING_ACTIVE = new Set(['setup', 'active', 'pre-switchover', 'device', 'wait-unplug', 'cancelling']);

/** One VM on this host: its files, its QEMU process and its QMP socket. */
export class QemuDomain {
  readonly paths: VmPaths;

  constructor(
    readonly host: HostContext,
    readonly vmId: string,
  ) {
    this.paths = vmPaths(host.storageDir, host.hostKey, vmId);
  }

  isDefined(): boolean {
    return existsSync(this.paths.spec);
  }

  readSpec(): StoredSpec | undefined {
    return readJson<StoredSpec>(this.paths.spec);
  }

  requireSpec(): StoredSpec {
    const spec = this.readSpec();
    if (!spec) throw new DriverError('not_found', `VM ${this.vmId} is not defined on this host`);
    return spec;
  }

  writeSpec(spec: VmSpec): void {
    const stored: StoredSpec = {
      ...spec,
      definedAt: this.readSpec()?.definedAt ?? new Date().toISOString(),
      ownerHost: this.host.hostKey,
    };
    writeJsonAtomic(this.paths.spec, stored);
  }

  /** The other host that owns this VM's spec on shared storage, if any. */
  ownerElsewhere(): string | undefined {
    const owner = this.readSpec()?.ownerHost;
    return owner !== undefined && owner !== this.host.hostKey ? owner : undefined;
  }

  readRun(): RunInfo | undefined {
    return readJson<RunInfo>(this.paths.runInfo);
  }

  /** The pid of this VM's QEMU when it is alive (and really is that QEMU). */
  livePid(): number | undefined {
    const run = this.readRun();
    if (run && isOurQemu(run.pid, this.paths.pidFile)) return run.pid;
    return this.adoptUnrecorded(run);
  }

  /**
   * A worker killed between spawning QEMU and writing run.json leaves a QEMU that no record
   * names; launching another would fail on the disk lock and leave the first one orphaned.
   * It is found by its own -pidfile argument (unique to this VM) and recorded. The scan of
   * every process costs tens of ms under load (it blocks the worker's event loop), so it is
   * skipped when nothing can have been launched: launch creates the run dir before it spawns.
   * A QEMU that wrote its pidfile is found through it without the scan.
   */
  private adoptUnrecorded(run: RunInfo | undefined): number | undefined {
    const pidFile = this.paths.pidFile;
    if (!existsSync(this.paths.runDir)) return undefined;
    const fromPidFile = Number(readText(pidFile)?.trim());
    const found =
      Number.isInteger(fromPidFile) && fromPidFile > 0 && isOurQemu(fromPidFile, pidFile)
        ? { pid: fromPidFile, argv: readCmdline(fromPidFile) ?? [] }
        : listQemuProcesses().find((q) => {
            const i = q.argv.indexOf('-pidfile');
            return i >= 0 && q.argv[i + 1] === pidFile && isOurQemu(q.pid, pidFile);
          });
    if (!found) return undefined;
    writeJsonAtomic(this.paths.runInfo, {
      pid: found.pid,
      startedAt: new Date().toISOString(),
      accel: run?.accel ?? this.host.accel,
      mode: found.argv.includes('-incoming') ? 'incoming' : 'normal',
      qmpSocket: this.paths.qmpSocket,
      serialSocket: this.paths.serialSocket,
    } satisfies RunInfo);
    return found.pid;
  }

  qmp<T>(fn: (client: QmpClient) => Promise<T>, connectTimeoutMs?: number): Promise<T> {
    return this.host.pool.use(this.paths.qmpSocket, fn, connectTimeoutMs);
  }

  /**
   * Keeps the QMP connection in use by the caller open for this VM's next operation (pool.hold);
   * `releaseQmp` or the end of the process lets it go.
   */
  holdQmp(): void {
    this.host.pool.hold(this.paths.qmpSocket);
  }

  releaseQmp(): void {
    this.host.pool.release(this.paths.qmpSocket);
  }

  queryStatus(timeoutMs = 5_000): Promise<QmpStatusInfo> {
    // The connect is bounded too: a QEMU on its way out has already removed its socket.
    return this.qmp((c) => c.execute<QmpStatusInfo>('query-status', undefined, { timeoutMs }), timeoutMs);
  }

  /**
   * Spawns QEMU for this VM and returns once QMP answers. `hooks.spawned` runs right after the
   * spawn (work that can overlap QEMU's start goes there, not before the spawn); `hooks.ready`
   * runs on the connection that found QMP answering (a second connect costs a round of greeting
   * and capabilities), and its answer is launch's.
   */
  async launch<T = undefined>(
    spec: VmSpec,
    options: LaunchOptions = {},
    hooks: LaunchHooks<T> = {},
  ): Promise<T | undefined> {
    const p = this.paths;
    const previous = this.readRun();
    if (previous && !(await waitUntilGone(() => qemuStillExits(previous.pid, p.pidFile), KILL_WAIT_MS))) {
      throw new DriverError('conflict', `the previous QEMU (pid ${previous.pid}) of ${this.vmId} is still exiting`);
    }
    ensureDir(p.runDir);
    if (p.socketDir !== p.runDir) ensurePrivateDir(p.socketDir);
    for (const stale of [p.qmpSocket, p.serialSocket, p.pidFile, p.stoppedMarker]) removeFile(stale);
    // Taps first: QEMU opens them by name at start, and a migration target keeps MAC and IP this way.
    const plugged = spec.nics?.length ? await this.host.networks.plugTaps(this.vmId, spec.nics) : [];
    const layout = launchLayout(p.vmDir, spec, options.incoming === true);
    const args = qemuArgs({
      vmId: this.vmId,
      accel: this.host.accel,
      ...layoutArgs(layout, spec.vcpus),
      disk: p.disk,
      pidFile: p.pidFile,
      qmpSocket: p.qmpSocket,
      serialSocket: p.serialSocket,
      serialLog: p.serialLog,
      kernel: kernelBootOf(spec.image, this.host.imagesDirs),
      seed: await ensureSeed(p.vmDir, spec),
      nics: plugged.map((n) => ({ tap: n.port ?? '', mac: n.mac })),
      volumes: launchVolumes(this.host.storageDir, spec.volumes),
      ...options,
    });
    writeLayout(p.vmDir, layout);
    tracePhase(this.vmId, 'qemu spawn asked');
    const pid = await spawnQemu(this.host.config.qemuBinary, args, p.qemuLog, p.pidFile);
    tracePhase(this.vmId, 'qemu spawned');
    hooks.spawned?.();
    const run: RunInfo = {
      pid,
      startedAt: new Date().toISOString(),
      accel: this.host.accel,
      mode: options.incoming ? 'incoming' : 'normal',
      qmpSocket: p.qmpSocket,
      serialSocket: p.serialSocket,
    };
    writeJsonAtomic(p.runInfo, run);
    return this.waitForQmp(pid, hooks.ready);
  }

  private waitForQmp<T>(pid: number, ready?: (client: QmpClient) => Promise<T>): Promise<T | undefined> {
    return waitForQmp(
      { vmId: this.vmId, pid, socket: this.paths.qmpSocket, pool: this.host.pool, logTail: () => this.logTail() },
      START_TIMEOUT_MS,
      ready,
    );
  }

  /**
   * Ends the process. Graceful: ACPI power button, then wait up to `timeoutMs` for the guest to
   * power off (QEMU exits by itself); whatever is left gets `quit`, then SIGKILL. The marker
   * written first tells `status` that this exit was intended.
   */
  async terminate(options: { graceful: boolean; timeoutMs: number; signal?: AbortSignal }): Promise<TerminateOutcome> {
    const pid = this.livePid();
    if (pid === undefined) {
      this.releaseQmp();
      await this.releaseNetwork(); // a crashed QEMU left its taps and DHCP entries behind
      return 'not-running';
    }
    ensureDir(this.paths.runDir);
    this.writeStoppedMarker('pending');
    let outcome: TerminateOutcome;
    try {
      outcome = await this.endProcess(pid, options);
    } catch (err) {
      // Cancelled while the guest was asked to power off: it keeps running, and no exit was intended.
      if (options.signal?.aborted) rmSync(this.paths.stoppedMarker, { force: true });
      throw err;
    }
    // Its quit went over a held connection if there was one; QEMU has closed it, nothing is kept for it.
    this.releaseQmp();
    this.writeStoppedMarker(outcome);
    this.cleanupRuntime();
    await this.releaseNetwork();
    return outcome;
  }

  /** The VM's taps and DHCP entries leave this host; a network left without NICs here is torn down. */
  releaseNetwork(): Promise<void> {
    return this.host.networks.unplug(this.vmId);
  }

  private async endProcess(
    pid: number,
    options: { graceful: boolean; timeoutMs: number; signal?: AbortSignal },
  ): Promise<TerminateOutcome> {
    // Gone means fully exited: only then are the image locks released for whoever comes next.
    const alive = (): boolean => qemuStillExits(pid, this.paths.pidFile);
    if (options.graceful) {
      const status = await this.queryStatus().catch(() => undefined);
      // A paused guest cannot see the power button; waiting would only burn the timeout.
      if (status?.status === 'running') {
        await this.qmp((c) => c.execute('system_powerdown')).catch(() => undefined);
        if (await waitUntilGone(alive, options.timeoutMs, 50, options.signal)) return 'acpi';
        // A cancel stops the wait and leaves the guest running: never fall through to quit.
        if (options.signal?.aborted)
          throw new DriverError('failed', `stop of ${this.vmId} cancelled while the guest was powering off`);
      }
    }
    // QEMU may close the socket before the reply to quit arrives; the exit is what counts.
    await this.qmp((c) => c.execute('quit', undefined, { timeoutMs: 3_000 }), 2_000).catch(() => undefined);
    if (await waitUntilGone(alive, QUIT_WAIT_MS, EXIT_POLL_MS)) return 'quit';
    sendSignal(pid, 'SIGKILL');
    if (!(await waitUntilGone(alive, KILL_WAIT_MS))) {
      throw new DriverError('failed', `QEMU pid ${pid} of ${this.vmId} survived SIGKILL`);
    }
    return 'kill';
  }

  private writeStoppedMarker(how: TerminateOutcome | 'pending' | 'acknowledged'): void {
    writeJsonAtomic(this.paths.stoppedMarker, { at: new Date().toISOString(), how } satisfies StoppedMarker);
  }

  /** Hard stop for internal use (failed launches, aborted migrations). */
  async kill(): Promise<void> {
    await this.terminate({ graceful: false, timeoutMs: 0 });
  }

  async status(): Promise<DomainStatus> {
    if (!existsSync(this.paths.vmDir)) return { state: 'absent' };
    const pid = this.livePid();
    if (pid !== undefined) {
      try {
        const s = await this.queryStatus(3_000);
        if (s.status === 'running' || s.status === 'paused') {
          // An outgoing migration leaves the run state alone; only query-migrate tells.
          const m = await this.qmp((c) =>
            c.execute<QmpMigrationInfo>('query-migrate', undefined, { timeoutMs: 3_000 }),
          );
          if (m.status && OUTGOING_ACTIVE.has(m.status)) {
            return { state: 'migrating', detail: `${s.status}, outgoing migration ${m.status}`, pid };
          }
        }
        return { state: domainStateOf(s.status), detail: s.status, pid };
      } catch (err) {
        // It may have died while we asked (a SIGTERM from outside closes QMP first): say how it ended.
        if (this.livePid() === undefined) return this.isDefined() ? this.deadStatus() : { state: 'absent' };
        return { state: 'unknown', detail: `QEMU pid ${pid} alive but QMP failed: ${errorMessage(err)}`, pid };
      }
    }
    if (!this.isDefined()) return { state: 'absent' };
    const owner = this.ownerElsewhere();
    if (owner) return { state: 'absent', detail: `belongs to host ${owner} (shared storage)` };
    return this.deadStatus();
  }

  /** Why a VM whose process is gone is not running (qemu-dead-status.ts). */
  deadStatus(): DomainStatus {
    return deadStatusOf(this.paths, this.readRun(), () => this.logTail());
  }

  /** Acknowledges a stop that happened without the driver (crash, guest poweroff). */
  markStopped(): void {
    if (!this.readRun() || existsSync(this.paths.stoppedMarker)) return;
    this.writeStoppedMarker('acknowledged');
  }

  cleanupRuntime(): void {
    const p = this.paths;
    for (const f of [p.qmpSocket, p.serialSocket, p.pidFile]) removeFile(f);
    if (p.socketDir !== p.runDir) rmSync(p.socketDir, { recursive: true, force: true });
  }

  /** Removes every file of this VM on this host (the whole VM dir, including a shared disk). */
  removeAllFiles(): void {
    this.cleanupRuntime();
    rmSync(this.paths.vmDir, { recursive: true, force: true });
  }

  /** Removes only this host's runtime files (shared storage: the disk belongs to the next host). */
  removeRuntimeFiles(): void {
    this.cleanupRuntime();
    rmSync(this.paths.runDir, { recursive: true, force: true });
  }

  logTail(maxChars = 600): string {
    try {
      return readFileSync(this.paths.qemuLog, 'utf8').trim().slice(-maxChars);
    } catch {
      return '';
    }
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
