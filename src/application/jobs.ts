import type { ObservedState } from '../domain/vm/vm.commands.js';
import type { JobStep, MigrationEndpoint, StepProgress, VmJobSpec, VmSize, VolumeSpec } from '../domain/vm/vm.types.js';
import type { VolumeStep } from '../domain/volume/volume.events.js';

/** A step that needs nothing but the VM's spec. */
export type NoArgs = Record<string, never>;

/**
 * The arguments of each step, all required: a job without one of them is malformed, never
 * defaulted. The field names are the ones jobs always had on the wire, so a job enqueued
 * before this contract was typed is still read the same way after an upgrade.
 */
export interface StepArgsByStep {
  /**
   * `thenStart`: a create that should run; the same job starts the VM once it is defined and
   * reports both steps (saves a round trip through the log and the queue). Absent: define only.
   */
  define: { thenStart?: boolean };
  start: NoArgs;
  /** Graceful (ACPI) unless force; a graceful stop falls back to a hard one after timeoutMs. */
  stop: { force: boolean; timeoutMs?: number };
  reboot: NoArgs;
  pause: NoArgs;
  resume: NoArgs;
  snapshot: { name: string; memory: boolean };
  revert: { name: string };
  deleteSnapshot: { name: string };
  /**
   * `sourceHostId`: the target's worker queues the source's migrate job itself once the target
   * listens (migrateJobId, carrying this step's success as `prior`), instead of waiting for the
   * result to go through the log and the saga. Absent (a job queued before this): the saga does.
   */
  prepareIncoming: { live: boolean; sourceHostId?: string };
  /** On the source host: send the VM to the endpoint the target prepared. */
  migrate: { live: boolean; endpoint: MigrationEndpoint; targetHostId: string };
  finishIncoming: { live: boolean };
  abortIncoming: NoArgs;
  destroy: NoArgs;
  /** `live`: the VM runs, so the driver hot-plugs (QMP, virsh --live) instead of only changing its definition. */
  attachVolume: { volume: VolumeSpec; live: boolean };
  detachVolume: { volume: VolumeSpec; live: boolean };
  /** Resize the running VM to `to` (totals, not deltas); the job's spec is the VM's before the resize. */
  resizeLive: { to: VmSize };
  /** The volume's own steps (on a VolumeJobData, never a VM's job): the file at the volume's size. */
  createVolume: { volume: VolumeSpec };
  /** `volume.sizeGiB` is the new size (grow only). */
  resizeVolume: { volume: VolumeSpec; vmId?: string };
  deleteVolume: { volume: VolumeSpec };
}

/** What each step produces when it succeeds (carried back in its `succeeded` result). */
export interface StepOutputByStep {
  /** `startFollows`: the job that defined the VM starts it too (no start job is to be enqueued). */
  define: { startFollows?: boolean };
  start: NoArgs;
  stop: NoArgs;
  reboot: NoArgs;
  pause: NoArgs;
  resume: NoArgs;
  snapshot: NoArgs;
  /** The state the domain is in after the revert (a memory snapshot restores a running VM). */
  revert: { state: 'running' | 'paused' | 'stopped' };
  deleteSnapshot: NoArgs;
  /**
   * Where the source must send the VM; `migrateQueued`: this worker queued the source's migrate
   * itself (a cancel is then decided by the migrate's outcome).
   */
  prepareIncoming: { endpoint: MigrationEndpoint; migrateQueued?: boolean };
  migrate: NoArgs;
  finishIncoming: NoArgs;
  abortIncoming: NoArgs;
  destroy: NoArgs;
  attachVolume: NoArgs;
  detachVolume: NoArgs;
  resizeLive: NoArgs;
  createVolume: NoArgs;
  resizeVolume: NoArgs;
  deleteVolume: NoArgs;
}

/** One step with its own arguments: switch on `step` and `args` has the right type. */
export type StepJob = { [S in JobStep]: { step: S; args: StepArgsByStep[S] } }[JobStep];

/** One step's result with its own output. */
export type StepResult = { [S in JobStep]: { step: S; output: StepOutputByStep[S] } }[JobStep];

interface HostJobBase {
  vmId: string;
  operationId: string;
  spec: VmJobSpec;
  /** Who asked for the operation (carried into the result events' metadata). */
  principal: string;
  /** The event that caused this job; also the BullMQ job id. */
  causationId: string;
  /**
   * A compensation (a cancelled create's destroy): it runs although its operation was cancelled,
   * and reports no result (the operation is closed). abortIncoming is one without the flag.
   */
  compensation?: boolean;
  /**
   * The steps of the same operation that succeeded just before another host's worker queued this
   * job itself (the target's prepareIncoming, for the source's migrate; that and the source's
   * migrate, for the target's finishIncoming), oldest first: this job's results carry them as
   * their `prior`, so the consumer records them first even when it has not seen them yet.
   */
  prior?: Prior;
}

/** One earlier step, or several oldest first (a single one is what jobs and results carried before lists). */
export type Prior = StepResult | readonly StepResult[];

/** A `prior` as a list, oldest first. */
export function priorSteps(prior: Prior | undefined): readonly StepResult[] {
  if (prior === undefined) return [];
  return isList(prior) ? prior : [prior];
}

function isList(prior: Prior): prior is readonly StepResult[] {
  return Array.isArray(prior);
}

/**
 * The id of a migration's finishIncoming job on the target: the source's worker queues it the
 * moment QEMU hands the guest off, and the saga queues it again under the same id once the
 * hand-off is recorded (a no-op then; after a Redis wipe it is what puts the job back).
 */
export const finishJobId = (operationId: string): string => `${operationId}.finishIncoming`;

/**
 * The id of a migration's migrate job on the source: the target's worker queues it the moment the
 * target listens, and the saga queues it again under the same id once VmMigrationTargetPrepared is
 * recorded (a no-op then; after a Redis wipe, or when the worker could not, it is what queues it).
 */
export const migrateJobId = (operationId: string): string => `${operationId}.migrate`;

/** The steps a VM's operations run (the volume's own steps go on a VolumeJobData). */
export type VmJobStep = Exclude<JobStep, VolumeStep>;
export type VmStepJob = Extract<StepJob, { step: VmJobStep }>;

/** A job on a host's queue: one driver call for one step of one operation. */
export type HostJobData = HostJobBase & VmStepJob;

/** A volume's own step (create, resize, delete its file) on its host's queue: no VM involved. */
export type VolumeJobData = {
  volumeId: string;
  operationId: string;
  principal: string;
  causationId: string;
} & Extract<StepJob, { step: VolumeStep }>;

/** Anything on a host's queue. */
export type QueueJobData = HostJobData | VolumeJobData;

export function isVolumeJob(data: QueueJobData): data is VolumeJobData {
  return 'volumeId' in data && typeof data.volumeId === 'string';
}

/** A volume step's outcome, for the volume's stream. */
export interface VolumeResultMessage {
  kind: 'volume';
  volumeId: string;
  operationId: string;
  step: VolumeStep;
  outcome: 'succeeded' | 'failed';
  reason?: string;
  jobId: string;
  principal: string;
}

/**
 * `prior` on a result: the steps that succeeded before this one, in the same job (a create's define
 * before its start) or on another host before that host's worker queued this job (a migration's
 * prepareIncoming and migrate). The consumer records them first, oldest first, so they land in
 * order whatever order or concurrency the results queue is consumed with, and a redelivered result
 * records nothing twice.
 */
interface ResultBase {
  vmId: string;
  operationId: string;
  step: JobStep;
  /** The host job this result belongs to. */
  jobId: string;
  principal: string;
}

/** The reconciler's report of what the driver really runs, for one VM. */
export interface ObservedResult {
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
   * Optional on the wire only because reconcilers before it was added did not send it.
   */
  revision?: string;
}

/**
 * A worker shutting down with WORKER_FENCE_ON_SHUTDOWN force-stopped every VM it ran for the
 * host and says so: the control plane fences the host on this confirmation (HostFenced, kind worker).
 */
export interface HostFencedResult {
  kind: 'fenced';
  hostId: string;
  /** The worker process (machine/pid). */
  confirmedBy: string;
  stoppedVms: string[];
  principal: string;
}

/**
 * An outcome's `started: true`: the step ended before its `started` was sent on its own, so the
 * outcome says it too and the consumer records the operation running first.
 */
interface OutcomeStarted {
  started?: true;
}

/** What workers send back to the control plane, on the results queue. */
export type ResultMessage =
  | HostFencedResult
  | (ResultBase & { kind: 'started' })
  | (Omit<ResultBase, 'step'> & { kind: 'succeeded'; prior?: Prior } & StepResult & OutcomeStarted)
  | (ResultBase & { kind: 'failed'; reason: string; attempts: number; prior?: Prior } & OutcomeStarted)
  | (ResultBase & { kind: 'progress'; progress: StepProgress })
  | ObservedResult
  | VolumeResultMessage;

/**
 * The BullMQ queue results went on before the results stream; the control plane still consumes it,
 * for workers of the previous version (a rolling upgrade), and nothing posts to it any more.
 */
export const RESULTS_QUEUE = 'results';
/**
 * Where workers post results: a Redis stream read by the control plane's consumer group (one XADD
 * per result instead of a BullMQ job's ~40 commands). An entry is deleted once it is recorded, so
 * what the stream holds is exactly the results not yet recorded.
 */
export const resultsStreamKey = (prefix: string): string => `${prefix}:result-stream`;
export const RESULTS_GROUP = 'control-plane';
/** An entry's fields: the id the worker gave the result (as a job id before), and the message as JSON. */
export const RESULT_ID_FIELD = 'id';
export const RESULT_MESSAGE_FIELD = 'm';
/**
 * Where the consumer moves a result it gave up on (see ResultStreamOptions.maxDeliveries): the entry's
 * fields kept whole, plus its entry id on the results stream, the last reason and how often it was taken.
 */
export const deadResultsKey = (prefix: string): string => `${resultsStreamKey(prefix)}:dead`;
export const DEAD_ENTRY_FIELD = 'entry';
export const DEAD_REASON_FIELD = 'reason';
export const DEAD_DELIVERIES_FIELD = 'deliveries';

/** One field of a stream entry (a flat name, value, name, value… list as Redis gives it). */
export function streamField(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
/** The host worker reaches the phase trace through the job contract (it may import nothing else of application). */
export { tracePhase } from './phase-trace.js';
export const hostQueueName = (hostId: string): string => `host.${hostId}`;

/** A job that failed on a host's queue, as operators see it (GET /v1/queues/{host}/failed). */
export interface FailedJob {
  id: string;
  step: string;
  operationId: string | null;
  vmId: string | null;
  error: string;
  attempts: number;
  /** How often it was found stalled (its worker died or lost its lock) and redelivered. */
  stalled: number;
  failedAt: string | null;
}

/** The results stream as operators see it (GET /v1/queues/results, /metrics, /health). */
export interface ResultCounts {
  /** Read by a control plane and not acknowledged yet: being recorded, or failed and waiting to be taken again. */
  pending: number;
  /** Posted and not read by any control plane yet. */
  waiting: number;
  /** Given up after every delivery, kept on the dead-letter stream for an operator. */
  deadLettered: number;
}

/** A result on the dead-letter stream, as operators see it (GET /v1/queues/results/dead). */
export interface DeadResult {
  /** Its entry id on the dead-letter stream: what retry and discard take. */
  id: string;
  /** The id its worker gave it (the job id it reports on, with the outcome). */
  resultId: string | null;
  kind: string | null;
  operationId: string | null;
  step: string | null;
  vmId: string | null;
  volumeId: string | null;
  /** The host the result names (observations, fences), else the host of its VM or volume; null when unknown. */
  hostId: string | null;
  /** The last reason it could not be recorded. */
  reason: string;
  /** How often it was delivered before it was given up (null for entries dead-lettered before it was kept). */
  deliveries: number | null;
  deadAt: string;
}
