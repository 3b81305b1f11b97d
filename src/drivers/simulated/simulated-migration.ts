import { randomUUID } from 'node:crypto';
import {
  DriverError,
  type CallContext,
  type HostBinding,
  type MigrationEndpoint,
  type Progress,
  type VmSpec,
} from '../hypervisor-driver.port.js';
import { DomainFileStore, newDomain, type SimDomain } from './domain-file-store.js';
import type { FaultInjector } from './fault-injector.js';
import { illegal, incomingConflict, now, parseEndpoint } from './simulated-checks.js';

const MIGRATION_STEPS = 4;

/**
 * The simulated driver's migration verbs. Both hosts live on this machine, so a migration moves
 * the domain's file from the source's directory into the target's, under both files' locks.
 */
export class SimulatedMigration {
  /** VMs this driver is sending away right now; status says 'migrating' meanwhile. */
  readonly migratingOut = new Set<string>();

  constructor(
    private readonly host: HostBinding,
    private readonly store: DomainFileStore,
    private readonly faults: FaultInjector,
  ) {}

  async prepareIncoming(spec: VmSpec, opts: { live: boolean }, ctx?: CallContext): Promise<MigrationEndpoint> {
    await this.faults.enter('prepareIncoming', ctx?.signal);
    return this.store.exclusive(spec.id, async () => {
      const existing = await this.store.load(spec.id);
      if (existing && !existing.incoming) {
        throw new DriverError('conflict', `simulated: ${spec.id} is already defined on host ${this.host.id}`);
      }
      if (existing?.incoming) {
        if (existing.incoming.live !== opts.live) {
          throw new DriverError(
            'conflict',
            `simulated: ${spec.id} is already expected with live=${existing.incoming.live}`,
          );
        }
        return this.endpoint(existing.incoming.token);
      }
      const token = randomUUID();
      await this.store.store(newDomain(spec, { token, live: opts.live, received: false }));
      return this.endpoint(token);
    });
  }

  /**
   * The hand-off goes through the file system: "sending" is writing the domain into the target's
   * directory and then removing it here. Written before removed: a crash in between leaves two
   * copies (which abortIncoming can resolve), never none.
   */
  async migrate(spec: VmSpec, endpoint: MigrationEndpoint, opts: { live: boolean }, ctx?: CallContext): Promise<void> {
    const { targetDir, token } = parseEndpoint(endpoint);
    if (targetDir === this.store.dir) throw new DriverError('conflict', `simulated: ${spec.id}: target is this host`);
    const target = new DomainFileStore(targetDir);
    await this.faults.hangIfAsked('migrate', ctx?.signal);

    const check = async (): Promise<SimDomain | undefined> => {
      const src = await this.store.load(spec.id);
      const tgt = await target.load(spec.id);
      if (!src) {
        // Already handed over by an earlier attempt whose answer was lost.
        if (tgt && (!tgt.incoming || (tgt.incoming.received && tgt.incoming.token === token))) return undefined;
        throw new DriverError('not_found', `simulated: ${spec.id} is not defined on host ${this.host.id}`);
      }
      if (src.incoming) throw incomingConflict(spec.id, 'migrate');
      const movable = opts.live ? src.state === 'running' || src.state === 'paused' : src.state === 'stopped';
      if (!movable) throw illegal(spec.id, opts.live ? 'migrate live' : 'migrate cold', src.state);
      if (!tgt?.incoming || tgt.incoming.token !== token) {
        throw new DriverError('conflict', `simulated: target is not prepared for ${spec.id} (unknown token)`);
      }
      if (tgt.incoming.live !== opts.live) {
        throw new DriverError('conflict', `simulated: target expects live=${tgt.incoming.live} for ${spec.id}`);
      }
      return src;
    };

    if (!(await check())) return;
    const totalBytes = opts.live ? spec.memoryMiB * 2 ** 20 : spec.diskGiB * 2 ** 30;
    const report = (step: number): void => {
      const transferredBytes = Math.round((totalBytes * step) / MIGRATION_STEPS);
      const p: Progress = {
        percent: Math.round((100 * step) / MIGRATION_STEPS),
        transferredBytes,
        remainingBytes: totalBytes - transferredBytes,
        totalBytes,
        message: step === MIGRATION_STEPS ? 'handed over' : 'copying',
      };
      try {
        ctx?.onProgress?.(p);
      } catch {
        // A broken progress sink must not fail a migration that is otherwise fine.
      }
    };

    this.migratingOut.add(spec.id);
    try {
      // Each step costs a full latency: a migration is several round-trips, and a
      // status call during it must be able to see 'migrating'.
      for (let step = 1; step < MIGRATION_STEPS; step++) {
        await this.faults.wait('migrate', this.faults.latencyMs, ctx?.signal);
        report(step);
      }
      await this.faults.wait('migrate', this.faults.latencyMs, ctx?.signal);
      this.faults.maybeFail('migrate');
      const handedOver = await this.store.exclusive2(spec.id, target, async () => {
        // The VM may have been stopped or destroyed while we were "copying".
        const src = await check();
        if (!src) return false;
        await target.store({
          ...src,
          incoming: { token, live: opts.live, received: true, from: this.store.dir },
          updatedAt: now(),
        });
        await this.store.discard(spec.id);
        return true;
      });
      if (handedOver) report(MIGRATION_STEPS);
    } finally {
      this.migratingOut.delete(spec.id);
    }
  }

  async finishIncoming(spec: VmSpec, opts: { live: boolean }, ctx?: CallContext): Promise<void> {
    await this.faults.enter('finishIncoming', ctx?.signal);
    await this.store.exclusive(spec.id, async () => {
      const d = await this.store.load(spec.id);
      if (!d) throw new DriverError('not_found', `simulated: ${spec.id} is not defined on host ${this.host.id}`);
      // Finished by an earlier attempt; the VM may have been used since, so leave it alone.
      if (!d.incoming) return;
      if (!d.incoming.received) throw new DriverError('conflict', `simulated: ${spec.id} has not been received yet`);
      if (d.incoming.live !== opts.live) {
        throw new DriverError('conflict', `simulated: ${spec.id} was received with live=${d.incoming.live}`);
      }
      await this.store.store({
        ...d,
        incoming: undefined,
        state: opts.live ? 'running' : 'stopped',
        detail: 'migrated in',
        updatedAt: now(),
      });
    });
  }

  async abortIncoming(spec: VmSpec, ctx?: CallContext): Promise<void> {
    await this.faults.enter('abortIncoming', ctx?.signal);
    await this.store.exclusive(spec.id, async () => {
      const d = await this.store.load(spec.id);
      if (!d) return;
      if (!d.incoming) {
        throw new DriverError(
          'conflict',
          `simulated: ${spec.id} is a finished domain on ${this.host.id}, not an incoming one`,
        );
      }
      // Received and gone from the source: this copy is the only one left; deleting it would lose the VM.
      const from = d.incoming.from;
      if (d.incoming.received && from && !(await new DomainFileStore(from).load(spec.id))) {
        throw new DriverError(
          'conflict',
          `simulated: ${spec.id} was already handed over; finish the migration instead`,
        );
      }
      await this.store.discard(spec.id);
    });
  }

  private endpoint(token: string): MigrationEndpoint {
    return { host: this.store.dir, token };
  }
}
