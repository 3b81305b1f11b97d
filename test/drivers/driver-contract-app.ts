import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import type { HostBinding, VmSpec } from '../../src/drivers/hypervisor-driver.port.js';
import { hostQueueName, type HostJobData, type ResultMessage } from '../../src/application/jobs.js';
import { safeJobId } from '../../src/workers/queue-hub.js';
import { logLength, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { assertAccepted, getVm, waitSettled, waitUntil, type Json } from '../support/e2e.js';
import type { ContractTarget } from './contract-target.js';
import { newVmId } from './driver-contract-support.js';

/** A real driver may need a while per step on a shared 2-core machine. */
export const OPERATION_MS = 120_000;

/** The real app with hosts of the target's kind, and what the API-level contract does with it. */
export class ContractApp {
  readonly registered: HostBinding[] = [];

  private constructor(
    readonly t: TestApp,
    private readonly target: ContractTarget,
  ) {}

  static async start(target: ContractTarget): Promise<ContractApp> {
    // A fast sweep, so a domain killed from outside is noticed within the test.
    const t = await startTestApp({ env: { RECONCILE_INTERVAL_MS: '1000' } });
    // Host storage lives under the data dir; a hypervisor running as another user (libvirt's QEMU) must traverse it.
    chmodSync(t.dataDir, 0o711);
    return new ContractApp(t, target);
  }

  /** Where the app's worker keeps a host's storage, so the target's cleanup and the worker agree. */
  storageOf(hostId: string): string {
    return join(this.t.dataDir, 'hosts', hostId);
  }

  async register(binding: HostBinding): Promise<HostBinding> {
    const res = await this.t.as('admin').post('/v1/hosts', {
      id: binding.id,
      name: binding.id,
      driver: binding.driver,
      uri: binding.uri,
      capacity: { vcpus: 16, memoryMiB: 16384 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    this.registered.push(binding);
    return binding;
  }

  /**
   * Workers stopped first (nothing starts a VM meanwhile), then the target removes what runs on
   * its hosts while their files still say what that is, then the data dir and Redis keys go.
   */
  async close(): Promise<void> {
    await this.t.stop().catch(() => undefined);
    for (const b of this.registered) if (b.driver === this.target.kind) await this.target.cleanup?.(b);
    await this.t.close().catch(() => undefined);
  }

  /** Creates a VM from the target's spec on `hostId` and waits for the create to succeed. */
  async create(hostId: string, label: string, start: boolean): Promise<{ vmId: string; operationId: string }> {
    const s: VmSpec = this.target.spec(newVmId(label));
    const body: Json = { name: s.name, vcpus: s.vcpus, memoryMiB: s.memoryMiB, diskGiB: s.diskGiB, hostId, start };
    if (s.image) body.image = s.image;
    const accepted = assertAccepted(await this.t.as('operator').post('/v1/vms', body));
    const op = await waitOperation(this.t, accepted.operationId, OPERATION_MS);
    assert.equal(op.status, 'succeeded', `create on ${hostId}: ${JSON.stringify(op)}`);
    return accepted;
  }

  /** One VM command as an operator; waits for its operation, which must succeed. Returns the operation id. */
  async run(path: string, body: object | undefined, method: 'post' | 'delete' = 'post'): Promise<string> {
    const as = this.t.as('operator');
    const { operationId } = assertAccepted(method === 'post' ? await as.post(path, body) : await as.delete(path));
    const op = await waitOperation(this.t, operationId, OPERATION_MS);
    assert.equal(op.status, 'succeeded', `${method} ${path}: ${JSON.stringify(op)}`);
    return operationId;
  }

  /** What the driver itself reports for the VM, through GET /v1/hosts/{id}/domains. */
  async domainState(hostId: string, vmId: string): Promise<string | undefined> {
    const res = await this.t.as('operator').get(`/v1/hosts/${hostId}/domains`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return (res.body.items as Json[]).find((d) => d.vmId === vmId && d.managed)?.state as string | undefined;
  }

  /** The read model and the driver's own listing agree on the state. */
  async expectState(hostId: string, vmId: string, state: string): Promise<void> {
    const vm = await getVm(this.t, vmId);
    assert.equal(vm.state, state, `VM ${vmId}: ${JSON.stringify(vm)}`);
    const real = await this.domainState(hostId, vmId);
    assert.equal(real, state === 'deleted' ? undefined : state, `the driver's listing of ${vmId} on ${hostId}`);
  }

  /** The log's length once nothing is in flight: what a refused or repeated command must not change. */
  async settledLogLength(): Promise<number> {
    await waitSettled(
      this.t,
      this.registered.map((b) => b.id),
    );
    return logLength(this.t);
  }

  /**
   * Runs a finished job's data again under a new job id, as BullMQ does when a stalled job is
   * handed to another worker: the driver call must succeed without changing anything, and the
   * decider must refuse its second result, so the log does not grow.
   */
  async redeliver(hostId: string, operationId: string, step: string): Promise<void> {
    const job = await this.jobOf(hostId, operationId, step);
    const length = await this.settledLogLength();
    const id = `${job.id}-redelivered`;
    // The job itself completes either way (a final failure is reported, not thrown): the result the
    // worker posts says whether the driver call succeeded. Recorded as it is posted (the consumer
    // deletes a result from the stream once it is recorded).
    const hub = this.t.runtime.hub;
    const post = hub.postResult.bind(hub);
    const posted = new Map<string, ResultMessage>();
    hub.postResult = (jobId, message) => {
      posted.set(safeJobId(jobId), message);
      return post(jobId, message);
    };
    let outcome: string;
    try {
      await hub.enqueueHostJob(hostId, id, job.data);
      outcome = await waitUntil(
        `the redelivered ${step} job's result`,
        async () => {
          // A define job that starts the VM too reports under `.start.ok` / `.start.failed` once past its define.
          for (const suffix of ['failed', 'start.failed']) {
            const failed = posted.get(safeJobId(`${id}.${suffix}`));
            if (failed) return `failed: ${(failed as { reason?: string }).reason}`;
          }
          for (const suffix of ['ok', 'start.ok']) if (posted.has(safeJobId(`${id}.${suffix}`))) return 'ok';
          return undefined;
        },
        OPERATION_MS,
      );
    } finally {
      hub.postResult = post;
    }
    assert.equal(outcome, 'ok', `the driver refused a redelivered ${step}`);
    assert.equal(await this.settledLogLength(), length, `a redelivered ${step} appended events`);
  }

  /** The host job that ran `step` for an operation (BullMQ keeps finished jobs). */
  private async jobOf(hostId: string, operationId: string, step: string): Promise<Job<HostJobData>> {
    const queue = this.t.runtime.hub.queue(hostQueueName(hostId));
    const jobs = (await queue.getJobs(['completed'], 0, 1000)) as Array<Job<HostJobData>>;
    const job = jobs.find((j) => j?.data.operationId === operationId && j.data.step === step);
    assert.ok(job, `no completed ${step} job for operation ${operationId} on ${hostId}`);
    return job;
  }
}
