/**
 * Security regression: a host queue's failed jobs name VMs of every project, and a discard fails the
 * job's operation. An operator of some projects saw and could retry or discard any tenant's failed job
 * (`/v1/queues/{host}/failed…` checked the role only). Now such a principal sees and acts on the jobs of
 * its own projects' VMs; another tenant's job answers exactly as a missing one (404, nothing appended,
 * the job left where it was). Real Redis, real BullMQ, the API process without workers (ROLE=api).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { registerHost, settledLogLength, startTestApp, type TestApp } from '../support/app.js';
import { assertError } from '../support/e2e.js';
import { tempDir } from '../support/env.js';
import { failEveryAttempt, type FailedRow } from '../support/failed-job.js';
import { asUser, writeAuthFile } from '../support/users.js';

describe('api: failed queue jobs are seen and acted on only by their VM project’s principals', () => {
  let t: TestApp;
  const dir = tempDir('vl-queue-tenancy-');
  const alice = () => asUser(t, 'alice');
  const bob = () => asUser(t, 'bob');

  before(async () => {
    const authFile = writeAuthFile(dir.dir, [
      { name: 'alice', role: 'operator', projects: ['team-a'] },
      { name: 'bob', role: 'operator', projects: ['team-b'] },
      { name: 'fleet', role: 'operator', projects: 'all' },
    ]);
    t = await startTestApp({ env: { ROLE: 'api', AUTH_FILE: authFile, JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '20' } });
    for (const name of ['team-a', 'team-b'])
      assert.equal((await t.as('admin').post('/v1/projects', { name })).status, 201);
  });
  after(async () => {
    await t?.close();
    dir.cleanup();
  });

  const ids = (page: { body: { items: FailedRow[] } }) => page.body.items.map((j) => j.id).sort();

  test("another tenant's failed job is invisible, and retrying or discarding it is a 404 that moves nothing", async () => {
    const hostId = await registerHost(t, { name: 'q-tenancy', uri: 'simulated://?latencyMs=0' });
    const created = await alice().post('/v1/vms', { name: 'a-stuck', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const job = await failEveryAttempt(t, hostId, created.body.operationId as string);

    // Its own project's operator and an operator of every project see it.
    assert.deepEqual(ids(await alice().get(`/v1/queues/${hostId}/failed`)), [job.id]);
    assert.deepEqual(ids(await asUser(t, 'fleet').get(`/v1/queues/${hostId}/failed`)), [job.id]);

    // Another tenant's operator: an empty page, and the job's id answers as an unknown one.
    const theirs = await bob().get(`/v1/queues/${hostId}/failed`);
    assert.equal(theirs.status, 200);
    assert.deepEqual(ids(theirs), []);
    const before = await settledLogLength(t);
    const missing = await bob().post(`/v1/queues/${hostId}/failed/no-such-job/retry`, {});
    assertError(await bob().post(`/v1/queues/${hostId}/failed/${job.id}/retry`, {}), 404, job.id);
    assertError(await bob().delete(`/v1/queues/${hostId}/failed/${job.id}?reason=mine`), 404, job.id);
    assert.equal(missing.status, 404);
    assert.equal(await settledLogLength(t), before, 'nothing appended');
    const op = await alice().get(`/v1/operations/${created.body.operationId as string}`);
    assert.notEqual(op.body.status, 'failed', 'the operation was not failed by the refused discard');
    assert.deepEqual(ids(await alice().get(`/v1/queues/${hostId}/failed`)), [job.id], 'still in the failed set');

    // Its own operator may discard it.
    const discarded = await alice().delete(`/v1/queues/${hostId}/failed/${job.id}?reason=ours`);
    assert.equal(discarded.status, 200, JSON.stringify(discarded.body));
    assert.deepEqual(ids(await alice().get(`/v1/queues/${hostId}/failed`)), []);
  });
});
