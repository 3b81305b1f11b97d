import type { MigrationEndpoint, Progress, VmSpec } from '../drivers/hypervisor-driver.port.js';
import type { ObservedState, StepOutput } from '../domain/vm/vm.commands.js';
import type { JobStep } from '../domain/vm/vm.types.js';

export interface StepArgs {
  force?: boolean;
  timeoutMs?: number;
  name?: string;
  memory?: boolean;
  live?: boolean;
  endpoint?: MigrationEndpoint;
  targetHostId?: string;
}

/** A job on a host's queue: one driver call for one step of one operation. */
export interface HostJobData {
  vmId: string;
  operationId: string;
  step: JobStep;
  spec: VmSpec;
  args: StepArgs;
  /** Who asked for the operation (carried into the result events' metadata). */
  principal: string;
  /** The event that caused this job; also the BullMQ job id. */
  causationId: string;
}

interface ResultBase {
  vmId: string;
  operationId: string;
  step: JobStep;
  /** The host job this result belongs to. */
  jobId: string;
  principal: string;
}

/** What workers send back to the control plane, on the results queue. */
export type ResultMessage =
  | (ResultBase & { kind: 'started' })
  | (ResultBase & { kind: 'succeeded'; output: StepOutput })
  | (ResultBase & { kind: 'failed'; reason: string; attempts: number })
  | (ResultBase & { kind: 'progress'; progress: Progress })
  | {
      kind: 'observed';
      vmId: string;
      hostId: string;
      observed: ObservedState;
      reason: string;
      jobActive: boolean;
      principal: string;
      /**
       * The VM's stream revision the reconciler judged: an observation that reaches the
       * decider after the VM moved on (a new operation began) is stale and dropped.
       */
      revision?: string;
    };

export const RESULTS_QUEUE = 'results';
export const hostQueueName = (hostId: string): string => `host.${hostId}`;
