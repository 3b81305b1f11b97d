import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostJobData, StepResult, VmStepJob as StepJob } from '../application/jobs.js';
import { RecordingDriver, type DriverCall } from '../../test/support/recording-driver.js';
import { MalformedJobError } from './job-check.js';
import { runDefineThenStart, runStep } from './step-runner.js';

const SPEC = { id: 'vm-1', name: 'web-1', vcpus: 2, memoryMiB: 1024, diskGiB: 8, image: 'alpine' };
const ENDPOINT = { host: '10.0.0.2', port: 49152, token: 't0k' };

function job(step: StepJob): HostJobData {
  return { vmId: 'vm-1', operationId: 'op-1', spec: SPEC, principal: 'alice', causationId: 'ev-1', ...step };
}

async function run(
  step: StepJob,
  driver = new RecordingDriver(),
): Promise<{ result: StepResult; calls: DriverCall[] }> {
  const result = await runStep(driver, job(step), {});
  return { result, calls: driver.calls };
}

/** Each step: the one driver call it must make (verb and arguments) and what it reports back. */
const CASES: Array<{ job: StepJob; call: DriverCall; result: StepResult }> = [
  {
    job: { step: 'define', args: {} },
    call: { verb: 'define', args: [SPEC] },
    result: { step: 'define', output: {} },
  },
  { job: { step: 'start', args: {} }, call: { verb: 'start', args: [SPEC] }, result: { step: 'start', output: {} } },
  {
    job: { step: 'stop', args: { force: false, timeoutMs: 5000 } },
    call: { verb: 'stop', args: [SPEC, { force: false, timeoutMs: 5000 }] },
    result: { step: 'stop', output: {} },
  },
  {
    job: { step: 'stop', args: { force: true } },
    call: { verb: 'stop', args: [SPEC, { force: true }] },
    result: { step: 'stop', output: {} },
  },
  { job: { step: 'reboot', args: {} }, call: { verb: 'reboot', args: [SPEC] }, result: { step: 'reboot', output: {} } },
  { job: { step: 'pause', args: {} }, call: { verb: 'pause', args: [SPEC] }, result: { step: 'pause', output: {} } },
  { job: { step: 'resume', args: {} }, call: { verb: 'resume', args: [SPEC] }, result: { step: 'resume', output: {} } },
  {
    job: { step: 'snapshot', args: { name: 's1', memory: true } },
    call: { verb: 'snapshot', args: [SPEC, 's1', { memory: true }] },
    result: { step: 'snapshot', output: {} },
  },
  {
    job: { step: 'revert', args: { name: 's1' } },
    call: { verb: 'revert', args: [SPEC, 's1'] },
    result: { step: 'revert', output: { state: 'running' } },
  },
  {
    job: { step: 'deleteSnapshot', args: { name: 's1' } },
    call: { verb: 'deleteSnapshot', args: [SPEC, 's1'] },
    result: { step: 'deleteSnapshot', output: {} },
  },
  {
    job: { step: 'prepareIncoming', args: { live: false } },
    call: { verb: 'prepareIncoming', args: [SPEC, { live: false }] },
    result: { step: 'prepareIncoming', output: { endpoint: { host: '127.0.0.1', port: 49152 } } },
  },
  {
    job: { step: 'migrate', args: { live: true, endpoint: ENDPOINT, targetHostId: 'host-b' } },
    call: { verb: 'migrate', args: [SPEC, ENDPOINT, { live: true }] },
    result: { step: 'migrate', output: {} },
  },
  {
    job: { step: 'finishIncoming', args: { live: true } },
    call: { verb: 'finishIncoming', args: [SPEC, { live: true }] },
    result: { step: 'finishIncoming', output: {} },
  },
  {
    job: { step: 'abortIncoming', args: {} },
    call: { verb: 'abortIncoming', args: [SPEC] },
    result: { step: 'abortIncoming', output: {} },
  },
  {
    job: { step: 'destroy', args: {} },
    call: { verb: 'destroy', args: [SPEC] },
    result: { step: 'destroy', output: {} },
  },
];

describe('step runner', () => {
  for (const c of CASES) {
    it(`${c.job.step} ${JSON.stringify(c.job.args)} calls driver.${c.call.verb} once with the job's arguments`, async () => {
      const { result, calls } = await run(c.job);
      assert.deepEqual(calls, [c.call]);
      assert.deepEqual(result, c.result);
    });
  }

  it('a revert reports the state the driver left the domain in, as a VM state', async () => {
    for (const [domain, vm] of [
      ['paused', 'paused'],
      ['stopped', 'stopped'],
      ['absent', 'stopped'],
      ['crashed', 'stopped'],
    ] as const) {
      const driver = new RecordingDriver();
      driver.revertTo = domain;
      const { result } = await run({ step: 'revert', args: { name: 's1' } }, driver);
      assert.deepEqual(result, { step: 'revert', output: { state: vm } }, `domain ${domain}`);
    }
  });

  it('a spec without an image reaches the driver without an image field', async () => {
    const driver = new RecordingDriver();
    const { image: _image, ...bare } = SPEC;
    await runStep(driver, { ...job({ step: 'start', args: {} }), spec: bare }, {});
    assert.deepEqual(driver.calls, [{ verb: 'start', args: [bare] }]);
    assert.equal(Object.hasOwn(driver.calls[0]!.args[0] as object, 'image'), false);
  });

  it('a job as the previous version wrote it to Redis (same field names) is run the same way', async () => {
    // Captured shape of a pre-union stop job: every field was optional, `force` always set.
    const wire: unknown = JSON.parse(
      '{"vmId":"vm-1","operationId":"op-1","step":"stop","spec":{"id":"vm-1","name":"web-1","vcpus":2,' +
        '"memoryMiB":1024,"diskGiB":8,"image":"alpine"},"args":{"force":false,"timeoutMs":5000},' +
        '"principal":"alice","causationId":"ev-1"}',
    );
    const driver = new RecordingDriver();
    await runStep(driver, wire as HostJobData, {});
    assert.deepEqual(driver.calls, [{ verb: 'stop', args: [SPEC, { force: false, timeoutMs: 5000 }] }]);
  });

  it('a job missing an argument is refused before any driver call, naming what is missing', async () => {
    const driver = new RecordingDriver();
    const broken = { ...job({ step: 'snapshot', args: { name: 's1', memory: false } }), args: { memory: false } };
    await assert.rejects(
      runStep(driver, broken as unknown as HostJobData, {}),
      (err: unknown) => err instanceof MalformedJobError && /args\.name must be a non-empty string/.test(err.message),
    );
    const noEndpoint = { ...job({ step: 'prepareIncoming', args: { live: true } }), step: 'migrate' };
    await assert.rejects(
      runStep(driver, noEndpoint as unknown as HostJobData, {}),
      (err: unknown) =>
        err instanceof MalformedJobError &&
        /args\.endpoint must be an object/.test(err.message) &&
        /args\.targetHostId/.test(err.message),
    );
    const unknownStep = { ...job({ step: 'start', args: {} }), step: 'format-disk' };
    await assert.rejects(runStep(driver, unknownStep as unknown as HostJobData, {}), MalformedJobError);
    assert.deepEqual(driver.calls, []);
  });

  it('a define job with thenStart defines, says so, then starts: one job, the two verbs in order', async () => {
    const driver = new RecordingDriver();
    const seen: string[] = [];
    const define = job({ step: 'define', args: { thenStart: true } }) as Extract<HostJobData, { step: 'define' }>;
    const result = await runDefineThenStart(driver, define, {}, undefined, (r) =>
      seen.push(`${r.step} ${JSON.stringify(r.output)} after ${driver.calls.map((c) => c.verb).join(',')}`),
    );
    assert.deepEqual(seen, ['define {"startFollows":true} after define']);
    assert.deepEqual(driver.calls, [
      { verb: 'define', args: [SPEC] },
      { verb: 'start', args: [SPEC] },
    ]);
    assert.deepEqual(result, { step: 'start', output: {} });
  });

  it('a define-then-start job cancelled during its define never starts the VM', async () => {
    const controller = new AbortController();
    const driver = new (class extends RecordingDriver {
      override async define(spec: typeof SPEC): Promise<void> {
        await super.define(spec);
        controller.abort(new Error('operation op-1 was cancelled'));
      }
    })();
    const define = job({ step: 'define', args: { thenStart: true } }) as Extract<HostJobData, { step: 'define' }>;
    let defined = false;
    await assert.rejects(
      runDefineThenStart(driver, define, { signal: controller.signal }, undefined, () => (defined = true)),
      /cancelled/,
    );
    assert.equal(defined, true, 'the define did succeed: the worker reports it with the failure');
    assert.deepEqual(
      driver.calls.map((c) => c.verb),
      ['define'],
    );
  });
});
