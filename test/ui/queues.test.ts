/**
 * The web console's queue view (issue 17 item 5), in Debian's chromium through playwright-core,
 * against a real app without workers (ROLE=api: a job nobody runs stays queued) and real BullMQ:
 * an operator sees a host's failed job with its error, discards it after a confirmation, and the
 * job's operation fails with who discarded it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { registerHost, startTestApp, TOKENS, waitOperation, type TestApp } from '../support/app.js';
import { failEveryAttempt } from '../support/failed-job.js';

const SHOTS = join(process.cwd(), 'dist', 'ui-screenshots');

describe('web console: queues and failed jobs (headless chromium)', () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestApp({ env: { ROLE: 'api', JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '20' } });
    await t.app.listen(0, '127.0.0.1');
    base = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('a failed job is listed with its error; Discard (confirmed) fails its operation', async () => {
    const hostId = await registerHost(t, { name: 'ui-queue-host', uri: 'simulated://?latencyMs=0' });
    const res = await t.as('operator').post('/v1/vms', { name: 'stuck', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId });
    assert.equal(res.status, 202);
    const job = await failEveryAttempt(t, hostId, res.body.operationId as string);

    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.setDefaultTimeout(20_000);
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${base}/ui/`);
    await page.fill('#token', TOKENS.operator);
    await page.click('#login button[type=submit]');
    await page.click('a[href="#/queues"]');
    await page.locator(`#queues tr[data-host="${hostId}"] td.error`, { hasText: '1' }).waitFor();
    const row = page.locator(`section[data-failed-host="${hostId}"] tr[data-job="${job.id}"]`);
    await row.locator('td.error', { hasText: 'results queue unreachable' }).waitFor();
    assert.equal(await row.locator('td').nth(0).textContent(), 'define');
    await page.screenshot({ path: join(SHOTS, '5-queues-failed-job.png'), fullPage: true });

    page.once('dialog', (d) => {
      assert.match(d.message(), /^Discard job define of ui-queue-host\?$/);
      void d.accept();
    });
    await row.locator('button[data-action="discard"]').click();
    await page.locator('#queue-status .ok', { hasText: `job ${job.id} discarded` }).waitFor();
    await page.locator(`#queues tr[data-host="${hostId}"] td`, { hasText: /^0$/ }).last().waitFor();
    assert.equal(await page.locator(`section[data-failed-host="${hostId}"]`).count(), 0);
    const op = await waitOperation(t, res.body.operationId as string);
    assert.equal(op.status, 'failed');
    assert.match(String(op.error), /discarded by operator#\w+ after: results queue unreachable/);
    assert.deepEqual(problems, []);
  });

  test('a viewer does not get the queues (403 shown, nothing to act on)', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${base}/ui/`);
    await page.fill('#token', TOKENS.viewer);
    await page.click('#login button[type=submit]');
    await page.click('a[href="#/queues"]');
    await page.locator('#view .error').waitFor();
    assert.equal(await page.locator('button[data-action="discard"]').count(), 0);
  });

  test('a view left while it loads does not replace the next one (a slow VM list, then Queues)', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    // When the VM list's body has been read, a task is queued; it runs after the microtasks that
    // follow the read (parse, the view's mount), so the flag says the list's view has finished.
    await page.addInitScript({
      content: `{
        const text = Response.prototype.text;
        Response.prototype.text = function () {
          const read = text.call(this);
          if (/\\/v1\\/vms(\\?|$)/.test(new URL(this.url).pathname + new URL(this.url).search))
            read.then(() => setTimeout(() => (window.__vmListViewDone = true)));
          return read;
        };
      }`,
    });
    // The VM list's request is held until the queues view has shown its answer: the order a loaded
    // server gives when the list is slow and the user clicks on.
    let releaseList!: () => void;
    const listHeld = new Promise<void>((resolve) => (releaseList = resolve));
    let listAsked!: () => void;
    const listSeen = new Promise<void>((resolve) => (listAsked = resolve));
    await page.route(/\/v1\/vms(\?|$)/, async (route) => {
      listAsked();
      await listHeld;
      await route.continue();
    });
    await page.goto(`${base}/ui/`);
    await page.fill('#token', TOKENS.viewer);
    await page.click('#login button[type=submit]');
    await listSeen;
    await page.click('a[href="#/queues"]');
    await page.locator('#view .error').waitFor();
    releaseList();
    // A function, not a string: the console's CSP has no 'unsafe-eval' for a string's polling.
    await page.waitForFunction(() => (globalThis as { __vmListViewDone?: boolean }).__vmListViewDone === true);
    // The list's view has finished; what shows is still the queues' refusal.
    assert.equal(await page.locator('#view .error').count(), 1);
    assert.equal(await page.locator('#view h1', { hasText: 'Virtual machines' }).count(), 0);
    await page.close();
  });
});
