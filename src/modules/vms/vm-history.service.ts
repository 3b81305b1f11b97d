import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { mayUse } from '../../http/auth/project-scope.js';
import { upcast } from '../../domain/upcasters.js';
import { vmStream } from '../../domain/streams.js';
import { StreamNotFoundError } from '../../eventstore/errors.js';
import type { EventStore, RecordedEvent } from '../../eventstore/event-store.port.js';
import type { ReadModels } from '../../projections/read-models.js';
import { EVENT_STORE, READ_MODELS, READ_YOUR_WRITES } from '../../http/tokens.js';
import type { ReadYourWrites } from '../../http/read-your-writes.js';
import type { Principal } from '../../http/auth/roles.js';
import { badField, type DiffRange } from '../../http/as-of.query.js';
import { countAt, describePoint, type PointInTime } from '../../http/point-in-time.js';
import { foldVm, vmChanges, type FieldChange } from '../../domain/vm/vm-diff.js';
import { vmProject } from '../../domain/vm/vm.state.js';
import { toVmView, type VmView } from './vm.view.js';
import { explain, type WhyView } from './why.js';

/** The read side of one VM: its view (now or at a point in time), history, diff and why. */
@Injectable()
export class VmHistoryService {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(READ_YOUR_WRITES) private readonly ryw: ReadYourWrites,
  ) {}

  /**
   * Read model first; the log when the read model does not have it (yet). A record behind
   * a command this process accepted for the VM waits for the projection (read-your-writes);
   * past that deadline the log answers, which always shows it. With a
   * point in time, the stream is folded up to it: `at` takes every event recorded
   * at or before that instant, `revision` every event up to and including it.
   */
  async view(vmId: string, principal: Principal, point?: PointInTime): Promise<VmView> {
    if (!point) {
      let rec = await this.readModels.getVm(vmId);
      const mine = this.ryw.lastWrite(vmStream(vmId));
      if (mine && !(rec && BigInt(rec.revision) >= mine.revision)) {
        const shown = await this.ryw.stream(vmStream(vmId), rec ? BigInt(rec.revision) : undefined);
        rec = shown ? await this.readModels.getVm(vmId) : undefined;
      }
      if (rec && !mayUse(principal, vmProject(rec.state))) throw new NotFoundException(`VM ${vmId} not found`);
      if (rec) return toVmView(rec.state, rec.revision, rec.createdAt, rec.updatedAt);
    }
    const all = await this.history(vmId, principal);
    const last = all[all.length - 1]!;
    if (point?.kind === 'revision' && point.revision > last.revision)
      throw new NotFoundException(
        `VM ${vmId} has no revision ${point.revision}: its latest revision is ${last.revision}`,
      );
    const events = point ? all.slice(0, countAt(all, point)) : all;
    if (events.length === 0)
      throw new NotFoundException(
        `VM ${vmId} did not exist yet at ${describePoint(point!)}: it was created at ${all[0]!.metadata.at}`,
      );
    const upTo = events[events.length - 1]!;
    return toVmView(foldVm(events), upTo.revision, all[0]!.metadata.at, upTo.metadata.at);
  }

  /** The VM's events, upcast, oldest first; 404 when there are none or the VM is another project's. */
  private async history(vmId: string, principal: Principal): Promise<RecordedEvent[]> {
    let events: RecordedEvent[];
    try {
      events = await this.store.readStream(vmStream(vmId));
    } catch (err) {
      if (err instanceof StreamNotFoundError) throw new NotFoundException(`VM ${vmId} not found`);
      throw err;
    }
    if (events.length === 0) throw new NotFoundException(`VM ${vmId} not found`);
    const upcast_ = events.map(upcast);
    // The project is set by the first event and never changes.
    if (!mayUse(principal, vmProject(foldVm(upcast_.slice(0, 1))))) throw new NotFoundException(`VM ${vmId} not found`);
    return upcast_;
  }

  /** Why the VM's event at `revision` (default: the latest) happened: see why.ts. */
  async why(vmId: string, principal: Principal, revision?: bigint): Promise<WhyView> {
    const all = await this.history(vmId, principal);
    const latest = all[all.length - 1]!.revision;
    if (revision !== undefined && revision > latest)
      throw new NotFoundException(`VM ${vmId} has no revision ${revision}: its latest revision is ${latest}`);
    return explain(vmId, all, revision === undefined ? all.length - 1 : Number(revision));
  }

  /**
   * Field changes between two points of the VM's history (see vm-diff.ts): `from`
   * defaults to before the first event, `to` to the latest revision.
   */
  async diff(vmId: string, range: DiffRange, principal: Principal): Promise<VmDiff> {
    const all = await this.history(vmId, principal);
    const latest = all[all.length - 1]!.revision;
    for (const field of ['from', 'to'] as const) {
      const p = range[field];
      if (p?.kind === 'revision' && p.revision > latest)
        throw badField(field, `revision ${p.revision} is past the latest revision ${latest} of VM ${vmId}`);
    }
    const fromCount = range.from ? countAt(all, range.from) : 0;
    const toCount = range.to ? countAt(all, range.to) : all.length;
    // Only reached with one revision and one instant: say what the instant resolved to.
    const resolved = (p: PointInTime, count: number) =>
      p.kind === 'revision'
        ? describePoint(p)
        : `${describePoint(p)}, i.e. ${count ? `revision ${count - 1}` : 'before the VM existed'}`;
    if (fromCount > toCount)
      throw badField(
        'from',
        `must not be after to (${resolved(range.from!, fromCount)} > ${resolved(range.to!, toCount)})`,
      );
    const bound = (count: number): DiffBound =>
      count === 0
        ? { revision: null, at: null }
        : { revision: Number(all[count - 1]!.revision), at: all[count - 1]!.metadata.at };
    return {
      vmId,
      from: bound(fromCount),
      to: bound(toCount),
      items: vmChanges(foldVm(all.slice(0, fromCount)), all.slice(fromCount, toCount)),
      next: null,
    };
  }
}

/** A bound of a diff as resolved against the stream: revision null is "before the first event". */
export interface DiffBound {
  revision: number | null;
  at: string | null;
}

export interface VmDiff {
  vmId: string;
  from: DiffBound;
  to: DiffBound;
  items: FieldChange[];
  /** The whole range is one answer; kept for the v1 list shape. */
  next: null;
}
