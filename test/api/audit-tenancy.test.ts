/**
 * Security regression: an auditor scoped to projects reads /v1/events and the live feed filtered to
 * its projects, but the other audit routes checked the role only: `/v1/audit/export` streamed every
 * tenant's events whole, `/v1/audit/proof?position=` returned any event whole (data and metadata),
 * `/v1/audit/verify?vmId=|streamId=` told how many events another tenant's VM had, and
 * `/v1/audit/replay-check` listed live and replayed records of every project. Now export keeps what
 * /v1/events shows, another tenant's stream verifies and proves as a missing one, and the replay
 * check (a whole-log answer) is for auditors of every project. Real SQLite, Redis and read models.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { registerHost, startTestApp, type TestApp } from '../support/app.js';
import { assertError } from '../support/e2e.js';
import { tempDir } from '../support/env.js';
import { asUser, writeAuthFile } from '../support/users.js';

type Json = Record<string, unknown>;

describe('api: the audit routes show a project-scoped auditor only its projects', () => {
  let t: TestApp;
  const dir = tempDir('vl-audit-tenancy-');
  const erin = () => asUser(t, 'erin'); // auditor of team-a
  const audra = () => asUser(t, 'audra'); // auditor of every project
  let aVm: string;
  let bVm: string;

  before(async () => {
    const authFile = writeAuthFile(dir.dir, [
      { name: 'alice', role: 'operator', projects: ['team-a'] },
      { name: 'bob', role: 'operator', projects: ['team-b'] },
      { name: 'erin', role: 'auditor', projects: ['team-a'] },
      { name: 'audra', role: 'auditor', projects: 'all' },
    ]);
    t = await startTestApp({ env: { ROLE: 'api', AUTH_FILE: authFile } });
    for (const name of ['team-a', 'team-b'])
      assert.equal((await t.as('admin').post('/v1/projects', { name })).status, 201);
    const hostId = await registerHost(t, { name: 'audit-tenancy', uri: 'simulated://?latencyMs=0' });
    const vm = { vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId };
    const a = await asUser(t, 'alice').post('/v1/vms', { ...vm, name: 'a-audited' });
    const b = await asUser(t, 'bob').post('/v1/vms', { ...vm, name: 'b-secret' });
    assert.equal(a.status, 202, JSON.stringify(a.body));
    assert.equal(b.status, 202, JSON.stringify(b.body));
    aVm = a.body.vmId as string;
    bVm = b.body.vmId as string;
    // Scoping reads a VM's project from the read model: both VMs are in it once their owners read them.
    assert.equal((await asUser(t, 'alice').get(`/v1/vms/${aVm}`)).status, 200);
    assert.equal((await asUser(t, 'bob').get(`/v1/vms/${bVm}`)).status, 200);
  });
  after(async () => {
    await t?.close();
    dir.cleanup();
  });

  const exported = async (who: () => ReturnType<typeof asUser>, query = '') => {
    const res = await who()
      .get(`/v1/audit/export${query}`)
      .buffer(true)
      .parse((r, cb) => {
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString()));
        r.on('end', () => cb(null, text));
      });
    assert.equal(res.status, 200);
    return (res.body as string)
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Json);
  };

  test("export: a scoped auditor gets its projects' streams only; another tenant's VM exports as a missing one", async () => {
    const mine = await exported(erin);
    const streams = new Set(mine.map((e) => e.streamId as string));
    assert.ok(streams.has(`vm-${aVm}`), [...streams].join(' '));
    for (const s of streams) assert.ok(s === `vm-${aVm}` || s === 'project-team-a', `erin exported ${s}`);
    assert.ok(!JSON.stringify(mine).includes('b-secret'), "bob's VM name is not in erin's export");
    assert.deepEqual(await exported(erin, `?vmId=${bVm}`), []);
    assert.ok((await exported(erin, `?vmId=${aVm}`)).length > 0);
    // An auditor of every project still exports the whole log.
    const all = new Set((await exported(audra)).map((e) => e.streamId as string));
    assert.ok(all.has(`vm-${bVm}`) && all.has(`vm-${aVm}`) && all.has('project-team-b'));
  });

  test("verify of one stream: another tenant's answers exactly as a missing one", async () => {
    const missing = (await erin().get(`/v1/audit/verify?vmId=6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b`)).body as Json;
    assert.deepEqual(missing, { verified: true, count: 0, streams: 0, firstBreak: null });
    assert.deepEqual((await erin().get(`/v1/audit/verify?vmId=${bVm}`)).body, missing);
    assert.deepEqual((await erin().get(`/v1/audit/verify?streamId=vm-${bVm}`)).body, missing);
    assert.deepEqual((await erin().get('/v1/audit/verify?streamId=project-team-b')).body, missing);
    const own = (await erin().get(`/v1/audit/verify?vmId=${aVm}`)).body as Json;
    assert.equal(own.streams, 1);
    assert.ok((own.count as number) > 0);
    const theirs = (await audra().get(`/v1/audit/verify?vmId=${bVm}`)).body as Json;
    assert.equal(theirs.streams, 1, 'an auditor of every project verifies any stream');
  });

  test("proof: another tenant's sealed event answers as a missing one; its own and an all-projects auditor's are proven", async () => {
    assert.ok(await t.runtime.sealer!.sealNow(), 'a seal was made');
    const eventOf = async (vmId: string) => {
      const page = await audra().get(`/v1/events?vmId=${vmId}&limit=1`);
      assert.equal(page.status, 200);
      return (page.body.items as Json[])[0]!.position as string;
    };
    const theirs = await eventOf(bVm);
    const ours = await eventOf(aVm);
    assertError(await erin().get(`/v1/audit/proof?position=${theirs}`), 404, `no sealed event at position ${theirs}`);
    const proven = await audra().get(`/v1/audit/proof?position=${theirs}`);
    assert.equal(proven.status, 200, JSON.stringify(proven.body));
    assert.equal((proven.body.event as Json).streamId, `vm-${bVm}`);
    const own = await erin().get(`/v1/audit/proof?position=${ours}`);
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal((own.body.event as Json).streamId, `vm-${aVm}`);
  });

  test('replay-check spans every project: 403 for a scoped auditor, 200 for one of every project', async () => {
    assertError(await erin().get('/v1/audit/replay-check'), 403, 'spans every project');
    const all = await audra().get('/v1/audit/replay-check');
    assert.equal(all.status, 200, JSON.stringify(all.body));
  });
});
