/**
 * The results stream as an operator sees it, with real Redis, the real API process and the built CLI:
 * a result the control plane can never record (a fence confirmation for a host nobody registered: the
 * host decider refuses it on every delivery) is dead-lettered for real, counted in /v1/queues/results,
 * /metrics and /health, listed with its reason and deliveries, retried once the cause is fixed (the host
 * registered) and recorded once, however often it is posted again; another is discarded. Bad ids are
 * 400 naming the field, unknown ones 404, and neither appends nor moves anything. Only principals of
 * every project may use the routes: a tenant's operator, a viewer get 403.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { DeadResult, ResultCounts } from '../../src/application/jobs.js';
import { registerHost, startTestApp, type TestApp } from '../support/app.js';
import { runCli } from '../support/cli.js';
import { storeEvents, waitUntil } from '../support/e2e.js';
import { tempDir } from '../support/env.js';
import { parseSamples, sampleValue } from '../support/prometheus-text.js';
import { asUser, tokenOf, writeAuthFile } from '../support/users.js';

describe('api: the results stream for operators (counts, dead letters, retry, discard)', () => {
  let t: TestApp;
  let url: string;
  const dir = tempDir('vl-dead-results-');
  const as = (name: string) => ({ env: { VIRTLEDGER_URL: url, VIRTLEDGER_TOKEN: tokenOf(name) } });
  const fleet = () => asUser(t, 'fleet');

  before(async () => {
    const authFile = writeAuthFile(dir.dir, [
      { name: 'root', role: 'admin', projects: 'all' },
      { name: 'fleet', role: 'operator', projects: 'all' },
      { name: 'tenant', role: 'operator', projects: ['team-a'] },
      { name: 'watcher', role: 'viewer', projects: 'all' },
    ]);
    // Two deliveries, a tenth of a second apart, then the dead-letter stream: the default 20 × 3 s in small.
    t = await startTestApp({
      env: { ROLE: 'api', AUTH_FILE: authFile, RESULT_RETRY_MS: '100', RESULT_MAX_DELIVERIES: '2' },
    });
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  after(async () => {
    await t?.close();
    dir.cleanup();
  });

  /** A worker's confirmation that it stopped every VM of a host, as WORKER_FENCE_ON_SHUTDOWN posts it. */
  const fence = (hostId: string, resultId: string) =>
    t.runtime.hub.postResult(resultId, {
      kind: 'fenced',
      hostId,
      confirmedBy: 'worker-machine/42',
      stoppedVms: [],
      principal: 'system:worker@test',
    });
  const counts = async (): Promise<ResultCounts> => (await fleet().get('/v1/queues/results')).body as ResultCounts;
  const dead = async (): Promise<DeadResult[]> =>
    (await fleet().get('/v1/queues/results/dead')).body.items as DeadResult[];
  const fences = async (hostId: string) =>
    (await storeEvents(t)).filter((e) => e.streamId === `host-${hostId}` && e.type === 'HostFenced');

  test('a result no delivery can record is dead-lettered, shown everywhere, retried once its cause is fixed, recorded once', async () => {
    assert.deepEqual(await counts(), { pending: 0, waiting: 0, deadLettered: 0 });
    const hostId = randomUUID();
    await fence(hostId, `fence.${hostId}.test`);
    const [row] = await waitUntil('the result dead-lettered', async () => {
      const items = await dead();
      return items.length === 1 ? items : undefined;
    });
    assert.equal(row!.resultId, `fence.${hostId}.test`);
    assert.equal(row!.kind, 'fenced');
    assert.equal(row!.hostId, hostId);
    assert.equal(row!.operationId, null, 'a fence belongs to no operation');
    assert.match(row!.reason, /host not found/);
    assert.equal(row!.deliveries, 3, 'given up on the take after RESULT_MAX_DELIVERIES');
    assert.deepEqual(await counts(), { pending: 0, waiting: 0, deadLettered: 1 }, 'out of the retry loop');

    const metrics = parseSamples((await t.http().get('/metrics')).text);
    assert.equal(sampleValue(metrics, 'virtledger_results_dead_lettered'), 1);
    assert.equal(sampleValue(metrics, 'virtledger_results_pending'), 0);
    assert.equal(sampleValue(metrics, 'virtledger_results_waiting'), 0);
    const health = await t.http().get('/health');
    assert.equal(health.status, 200, 'degraded, not down: a restart would not help');
    assert.deepEqual(health.body.details.results, {
      status: 'up',
      pending: 0,
      waiting: 0,
      deadLettered: 1,
      degraded: true,
    });

    const listed = await runCli(['queue', 'dead-results'], as('fleet'));
    assert.equal(listed.code, 0, listed.stderr);
    const [header, line] = listed.stdout.trim().split('\n');
    assert.match(header!, /^ID +KIND +STEP +OPERATION +HOST +DELIVERIES +DEAD AT +REASON$/);
    assert.match(line!, new RegExp(`^${row!.id} +fenced +- +- +${hostId} +3 +\\S+ +host not found$`));
    const shown = await runCli(['queue', 'results', '--json'], as('root'));
    assert.deepEqual(JSON.parse(shown.stdout), { pending: 0, waiting: 0, deadLettered: 1 });

    // Retried before its cause is fixed: it goes round again and comes back dead, nothing recorded.
    const early = await fleet().post(`/v1/queues/results/dead/${row!.id}/retry`, {});
    assert.equal(early.status, 200, JSON.stringify(early.body));
    const [again] = await waitUntil('the result dead-lettered again', async () => {
      const items = await dead();
      return items.length === 1 && items[0]!.id !== row!.id ? items : undefined;
    });
    assert.equal(again!.resultId, row!.resultId);
    assert.equal((await fences(hostId)).length, 0);

    // The cause fixed: the host it confirms is registered. The retry records the fence.
    await registerHost(t, { id: hostId, name: 'dead-results-host' });
    const retried = await runCli(['queue', 'retry-result', again!.id, '--reason', 'host registered'], as('fleet'));
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(retried.stdout.trim(), `result ${again!.id} retried`);
    const [fenced] = await waitUntil('the fence recorded', async () => {
      const found = await fences(hostId);
      return found.length ? found : undefined;
    });
    assert.equal((fenced!.data as { evidence: { confirmedBy: string } }).evidence.confirmedBy, 'worker-machine/42');
    await waitUntil('the stream drained', async () => {
      const c = await counts();
      return c.pending + c.waiting + c.deadLettered === 0;
    });
    assert.deepEqual(await dead(), []);
    const twice = await runCli(['queue', 'retry-result', again!.id], as('fleet'));
    assert.equal(twice.code, 3, 'gone from the dead-letter stream: not found');

    // The same result posted again (a redelivery, a second retry): the log holds it, nothing more is recorded.
    await fence(hostId, `fence.${hostId}.test`);
    await waitUntil('the repeat consumed', async () => {
      const c = await counts();
      return c.pending + c.waiting === 0;
    });
    assert.equal((await fences(hostId)).length, 1, 'recorded once');
    assert.deepEqual(await dead(), [], 'the repeat decided nothing and was acknowledged');
  });

  test('discard: the result is gone for good; bad and unknown ids move nothing; tenants and viewers get 403', async () => {
    const hostId = randomUUID();
    await fence(hostId, `fence.${hostId}.discard`);
    const [row] = await waitUntil('the result dead-lettered', async () => {
      const items = (await dead()).filter((r) => r.hostId === hostId);
      return items.length === 1 ? items : undefined;
    });

    const logBefore = (await storeEvents(t)).length;
    const countsBefore = await counts();
    const bad = await fleet().post('/v1/queues/results/dead/not-an-id/retry', {});
    assert.equal(bad.status, 400);
    assert.match(bad.body.message as string, /^id must be a dead-lettered result id/);
    assert.deepEqual(bad.body.details, [{ field: 'id', errors: [bad.body.message] }]);
    assert.equal((await fleet().delete('/v1/queues/results/dead/1-x')).status, 400);
    const unknown = await fleet().post('/v1/queues/results/dead/1-0/retry', {});
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.message, 'result 1-0 is not on the dead-letter stream');
    assert.equal((await fleet().delete('/v1/queues/results/dead/1-0')).status, 404);
    const long = await fleet().delete(`/v1/queues/results/dead/${row!.id}?reason=${'x'.repeat(501)}`);
    assert.equal(long.status, 400);

    for (const who of ['tenant', 'watcher']) {
      const u = asUser(t, who);
      assert.equal((await u.get('/v1/queues/results')).status, 403, who);
      assert.equal((await u.get('/v1/queues/results/dead')).status, 403, who);
      assert.equal((await u.post(`/v1/queues/results/dead/${row!.id}/retry`, {})).status, 403, who);
      assert.equal((await u.delete(`/v1/queues/results/dead/${row!.id}`)).status, 403, who);
    }
    const refused = await runCli(['queue', 'discard-result', row!.id], as('tenant'));
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /role operator of projects team-a may not see the results stream/);
    assert.equal((await storeEvents(t)).length, logBefore, 'refusals append nothing');
    assert.deepEqual(await counts(), countsBefore, 'and move nothing');
    assert.equal((await dead()).find((r) => r.id === row!.id)?.id, row!.id);

    const gone = await runCli(['queue', 'discard-result', row!.id, '--reason', 'host retired', '--json'], as('root'));
    assert.equal(gone.code, 0, gone.stderr);
    const body = JSON.parse(gone.stdout) as { action: string; result: DeadResult };
    assert.equal(body.action, 'discarded');
    assert.equal(body.result.id, row!.id);
    assert.equal(body.result.hostId, hostId);
    assert.equal(
      (await dead()).find((r) => r.id === row!.id),
      undefined,
    );
    assert.equal((await counts()).deadLettered, countsBefore.deadLettered - 1);
    assert.equal((await fleet().delete(`/v1/queues/results/dead/${row!.id}`)).status, 404, 'discarded once');
    assert.equal((await storeEvents(t)).length, logBefore, 'a discard records nothing in the log');
  });
});
