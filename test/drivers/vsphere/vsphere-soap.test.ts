/**
 * The SOAP layer's error paths, against a scripted vim25 endpoint (no simulator needed): what
 * vcsim cannot show — a task still running at its deadline, a call that never answers, an expired
 * session — and what an operator reads when a task fails.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DriverError, type Progress } from '../../../src/drivers/hypervisor-driver.port.js';
import { DriverConfigError, createDriver, driverCapabilities } from '../../../src/drivers/driver-registry.js';
import { SoapClient } from '../../../src/drivers/vsphere/soap-client.js';
import { TaskFailed, runTask } from '../../../src/drivers/vsphere/tasks.js';
import { FakeVsphere, taskInfo, type Script } from './fake-vsphere.js';

const VM = { type: 'VirtualMachine', value: 'vm-7' };

function client(fake: FakeVsphere, callTimeoutMs = 30_000): SoapClient {
  return new SoapClient({ sdkUrl: fake.sdkUrl, user: 'u', password: () => 'p', insecure: false, callTimeoutMs });
}

/** PowerOnVM_Task returns task-1; its info is what `info(n)` says at the n-th look. */
function powerOn(info: (n: number) => ReturnType<typeof taskInfo>): Script {
  return (method, _req, n) => {
    if (method === 'PowerOnVM_Task') return { body: '<returnval type="Task">task-1</returnval>' };
    if (method === 'RetrievePropertiesEx') return info(n);
    return undefined;
  };
}

describe('vsphere SOAP layer (scripted endpoint)', () => {
  const fakes: FakeVsphere[] = [];
  const start = async (script: Script): Promise<FakeVsphere> => {
    const f = await FakeVsphere.start(script);
    fakes.push(f);
    return f;
  };
  after(async () => {
    for (const f of fakes) await f.close();
  });

  test("a failed task is reported in VMware's own words, with the fault's type", async () => {
    const message = 'The attempted operation cannot be performed in the current state (Powered on).';
    const fake = await start(
      powerOn(() =>
        taskInfo(
          'task-1',
          'error',
          `<error><fault xsi:type="InvalidPowerState"><requestedState>poweredOn</requestedState></fault>` +
            `<localizedMessage>${message}</localizedMessage></error>`,
        ),
      ),
    );
    await assert.rejects(runTask(client(fake), 'PowerOnVM_Task', VM, '', 'start vm1', 60_000), (err: unknown) => {
      assert.ok(err instanceof TaskFailed);
      assert.equal(err.faultType, 'InvalidPowerState');
      assert.equal(err.message, `start vm1: vSphere task failed: ${message} (InvalidPowerState)`);
      return true;
    });
  });

  test('a task still running at its deadline is cancelled in vCenter (CancelTask) and fails as timeout; progress was reported', async () => {
    const fake = await start(
      powerOn((n) => taskInfo('task-1', 'running', `<progress>${Math.min(n * 10, 90)}</progress>`)),
    );
    const progress: Progress[] = [];
    // The deadline only has to pass after the first looks at the task; nothing here is timed.
    await assert.rejects(
      runTask(client(fake), 'PowerOnVM_Task', VM, '', 'start vm1', 400, { onProgress: (p) => progress.push(p) }),
      (err: unknown) => {
        assert.ok(err instanceof DriverError);
        assert.equal(err.code, 'timeout');
        assert.match(err.message, /task-1 not done within 400 ms \(cancelled\)/);
        return true;
      },
    );
    assert.equal(fake.count('CancelTask'), 1);
    assert.match(fake.calls.find((c) => c.method === 'CancelTask')!.request, /<_this type="Task">task-1<\/_this>/);
    assert.ok(progress.length > 0 && progress.every((p) => typeof p.percent === 'number'), JSON.stringify(progress));
  });

  test("the caller's abort cancels the task too, and says it was aborted", async () => {
    const abort = new AbortController();
    const fake = await start(
      powerOn((n) => {
        if (n === 2) abort.abort(new Error('operation cancelled by alice'));
        return taskInfo('task-1', 'running');
      }),
    );
    await assert.rejects(
      runTask(client(fake), 'PowerOnVM_Task', VM, '', 'start vm1', 60_000, { signal: abort.signal }),
      (err: unknown) => err instanceof DriverError && err.code === 'failed' && /aborted/.test(err.message),
    );
    assert.equal(fake.count('CancelTask'), 1);
  });

  test('a call that never answers ends at its deadline as timeout', async () => {
    const fake = await start((method) => (method === 'PowerOnVM_Task' ? 'hang' : undefined));
    await assert.rejects(runTask(client(fake, 300), 'PowerOnVM_Task', VM, '', 'start vm1', 60_000), (err: unknown) => {
      assert.ok(err instanceof DriverError);
      assert.equal(err.code, 'timeout');
      assert.match(err.message, /PowerOnVM_Task .* no answer within 300 ms/);
      return true;
    });
  });

  test('an expired session (NotAuthenticated) logs in again once and the call goes through', async () => {
    const fake = await start((method, _req, n) => {
      if (method === 'PowerOnVM_Task') return { body: '<returnval type="Task">task-1</returnval>' };
      if (method === 'RetrievePropertiesEx') {
        // The first look at the task finds the session expired, as vCenter says after its idle timeout.
        if (n === 1) return { fault: 'NotAuthenticated', message: 'The session is not authenticated.' };
        return taskInfo('task-1', 'success');
      }
      return undefined;
    });
    await runTask(client(fake), 'PowerOnVM_Task', VM, '', 'start vm1', 60_000);
    assert.equal(fake.count('Login'), 2);
    assert.equal(fake.count('RetrievePropertiesEx'), 2);
  });

  test('a refused login says so, with the user and the endpoint', async () => {
    const fake = await start((method) =>
      method === 'Login'
        ? { fault: 'InvalidLogin', message: 'Cannot complete login due to an incorrect user name or password.' }
        : undefined,
    );
    await assert.rejects(client(fake).call('PowerOnVM_Task', VM, ''), (err: unknown) => {
      assert.ok(err instanceof DriverError);
      assert.match(
        err.message,
        /vSphere refused the login of u at http:\/\/127\.0\.0\.1:\d+\/sdk: Cannot complete login/,
      );
      return true;
    });
    assert.equal(fake.count('PowerOnVM_Task'), 0);
  });

  test('a password in the host URI is refused before anything is contacted (400 at registration)', () => {
    const uri = 'vsphere://admin:hunter2@127.0.0.1:1/?datacenter=DC0&host=H0';
    assert.throws(
      () => driverCapabilities('vsphere', uri),
      (err: unknown) => err instanceof DriverConfigError && !/hunter2/.test(err.message),
    );
    assert.throws(
      () => createDriver({ id: 'h1', driver: 'vsphere', uri, storageDir: '/nonexistent' }),
      (err: unknown) => err instanceof DriverConfigError && /must not carry a password/.test(err.message),
    );
  });
});
