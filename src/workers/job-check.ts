import type { HostJobData, StepArgsByStep, VolumeJobData } from '../application/jobs.js';
import { JOB_STEPS, type JobStep } from '../domain/vm/vm.types.js';

/**
 * A job whose data does not match the contract (a hand-made or corrupted entry in Redis): no
 * retry can fix it, and calling the driver with a made-up default could act on the wrong thing.
 */
export class MalformedJobError extends Error {
  override readonly name = 'MalformedJobError';
}

type Kind = 'string' | 'boolean' | 'number' | 'object' | 'array';
/** Each argument's JSON kind; `?` when the contract lets it be absent. */
type Shape<A> = { [K in keyof A]-?: undefined extends A[K] ? `${Kind}?` : Kind };

/** StepArgsByStep at run time: the compiler checks this table names every argument of every step. */
const ARGS: { [S in JobStep]: Shape<StepArgsByStep[S]> } = {
  define: { thenStart: 'boolean?' },
  start: {},
  stop: { force: 'boolean', timeoutMs: 'number?' },
  reboot: {},
  pause: {},
  resume: {},
  snapshot: { name: 'string', memory: 'boolean' },
  revert: { name: 'string' },
  deleteSnapshot: { name: 'string' },
  prepareIncoming: { live: 'boolean', sourceHostId: 'string?' },
  migrate: { live: 'boolean', endpoint: 'object', targetHostId: 'string' },
  finishIncoming: { live: 'boolean' },
  abortIncoming: {},
  destroy: {},
  attachVolume: { volume: 'object', live: 'boolean' },
  detachVolume: { volume: 'object', live: 'boolean' },
  resizeLive: { to: 'object' },
  createVolume: { volume: 'object' },
  resizeVolume: { volume: 'object', vmId: 'string?' },
  deleteVolume: { volume: 'object' },
};

const VOLUME: Record<string, Kind> = { volumeId: 'string', name: 'string', sizeGiB: 'number' };
/** A volume id reaches a file name on the host: the id pattern only. */
const VOLUME_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

const SIZE: Record<string, Kind> = { vcpus: 'number', memoryMiB: 'number', diskGiB: 'number' };

/** A resize's size reaches a driver's argv and cgroup files: whole positive numbers only. */
function sizeProblems(args: Record<string, unknown>): string[] {
  const to = args.to;
  if (!isRecord(to)) return [];
  const out = mismatches(to, SIZE, 'args.to');
  for (const k of Object.keys(SIZE)) {
    const v = to[k];
    if (typeof v === 'number' && !(Number.isSafeInteger(v) && v > 0))
      out.push(`args.to.${k} must be a positive integer`);
  }
  return out;
}

function volumeProblems(args: Record<string, unknown>): string[] {
  const v = args.volume;
  if (!isRecord(v)) return [];
  const out = mismatches(v, VOLUME, 'args.volume');
  if (typeof v.volumeId === 'string' && !VOLUME_ID.test(v.volumeId))
    out.push('args.volume.volumeId is not a volume id');
  return out;
}

const SPEC: Record<string, Kind | `${Kind}?`> = {
  id: 'string',
  name: 'string',
  vcpus: 'number',
  memoryMiB: 'number',
  diskGiB: 'number',
  maxVcpus: 'number?',
  maxMemoryMiB: 'number?',
  image: 'string?',
  catalogImage: 'object?',
  userData: 'string?',
  sshKeys: 'array?',
  volumes: 'array?',
};

const DESCRIBED: Record<Kind, string> = {
  string: 'a non-empty string',
  boolean: 'a boolean',
  number: 'a number',
  object: 'an object',
  array: 'an array',
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mismatches(value: Record<string, unknown>, shape: Record<string, string>, where: string): string[] {
  const out: string[] = [];
  for (const [key, want] of Object.entries(shape)) {
    const optional = want.endsWith('?');
    const kind = optional ? want.slice(0, -1) : want;
    const v = value[key];
    if (v === undefined && optional) continue;
    const ok =
      kind === 'array'
        ? Array.isArray(v)
        : kind === 'object'
          ? isRecord(v)
          : typeof v === kind && (kind !== 'string' || v !== '');
    if (!ok) out.push(`${where}.${key} must be ${DESCRIBED[kind as Kind]}`);
  }
  return out;
}

/**
 * Checks a job read from a queue against the contract and returns it typed; throws
 * MalformedJobError naming every field that is missing or of the wrong kind.
 */
/** A volume's own job (no VM, no spec): checked the same way. */
export function checkVolumeJob(data: unknown): VolumeJobData {
  if (!isRecord(data)) throw new MalformedJobError('malformed job: not an object');
  const step = data.step;
  if (step !== 'createVolume' && step !== 'resizeVolume' && step !== 'deleteVolume')
    throw new MalformedJobError(`malformed volume job: unknown step ${JSON.stringify(step)}`);
  const problems = mismatches(data, { volumeId: 'string', operationId: 'string' }, 'job');
  if (isRecord(data.args)) problems.push(...mismatches(data.args, ARGS[step], 'args'), ...volumeProblems(data.args));
  else problems.push('job.args must be an object');
  if (problems.length) throw new MalformedJobError(`malformed ${step} job: ${problems.join('; ')}`);
  return data as unknown as VolumeJobData;
}

export function checkJob(data: unknown): HostJobData {
  if (!isRecord(data)) throw new MalformedJobError('malformed job: not an object');
  const step = data.step;
  if (typeof step !== 'string' || !(JOB_STEPS as readonly string[]).includes(step))
    throw new MalformedJobError(`malformed job: unknown step ${JSON.stringify(step)}`);
  const problems = mismatches(data, { vmId: 'string', operationId: 'string' }, 'job');
  if (isRecord(data.spec)) problems.push(...mismatches(data.spec, SPEC, 'spec'));
  else problems.push('job.spec must be an object');
  if (isRecord(data.args))
    problems.push(
      ...mismatches(data.args, ARGS[step as JobStep], 'args'),
      ...volumeProblems(data.args),
      ...sizeProblems(data.args),
    );
  else problems.push('job.args must be an object');
  if (problems.length) throw new MalformedJobError(`malformed ${step} job: ${problems.join('; ')}`);
  return data as unknown as HostJobData;
}
