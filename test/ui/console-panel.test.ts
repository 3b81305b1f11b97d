/**
 * The console panel of the web console, in headless chromium against a real app whose qemu
 * host boots the test guest under TCG: attach (ticket + WebSocket, no token in a URL), see
 * the guest's GUEST-READY (scrollback) and a command's answer typed on the input line; a
 * viewer's panel is read-only. Screenshots land in dist/ui-screenshots.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestApp, TOKENS, waitOperation, type TestApp } from '../support/app.js';
import { tempDir } from '../support/env.js';
import { putImage } from '../support/image-files.js';
import { waitFor } from '../support/wait.js';
import { guestBundle } from '../drivers/qemu/guest-console.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'dist', 'ui-screenshots');
const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
const skip = !hasQemu ? 'qemu-system-x86_64 not installed' : !existsSync(CHROMIUM) ? `${CHROMIUM} missing` : false;

describe('web console: the console panel of a qemu VM (chromium, real QEMU under TCG)', { skip }, () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;
  let vmId: string;
  const storage = tempDir('vl-ui-console-');
  const hostId = 'ui-console';

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    base = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    const host = await t.as('admin').post('/v1/hosts', {
      id: hostId,
      name: hostId,
      driver: 'qemu',
      uri: `qemu:///system?storage=${storage.dir}&stopTimeoutMs=2000&accel=tcg`,
      capacity: { vcpus: 4, memoryMiB: 2048 },
    });
    assert.equal(host.status, 201, JSON.stringify(host.body));
    const bundle = guestBundle();
    assert.equal((await putImage(t, 'guest', bundle)).status, 201);
    const res = await t
      .as('operator')
      .post('/v1/vms', { name: 'ui-console', vcpus: 1, memoryMiB: 128, diskGiB: 1, hostId, image: 'guest' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    vmId = res.body.vmId as string;
    assert.equal((await waitOperation(t, res.body.operationId as string, 120_000)).status, 'succeeded');
    // The panel shows the end of the log on attach: wait until the guest has said it is up.
    await waitFor(
      async () =>
        ((await t.as('operator').get(`/v1/vms/${vmId}/console/log?tail=200`)).body.lines as string[] | undefined)?.some(
          (l) => l.includes('GUEST-READY'),
        ),
      { what: 'GUEST-READY in the log', timeoutMs: 180_000, intervalMs: 500 },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    if (vmId) {
      const del = await t.as('operator').delete(`/v1/vms/${vmId}`);
      if (del.status === 202) await waitOperation(t, del.body.operationId as string, 60_000).catch(() => undefined);
    }
    await t?.close();
    storage.cleanup();
  });

  async function vmPage(token: string): Promise<{ page: Page; urls: string[]; problems: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    page.setDefaultTimeout(30_000);
    const urls: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    page.on('websocket', (ws) => urls.push(ws.url()));
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    await page.goto(`${base}/ui/`);
    await page.fill('#token', token);
    await page.click('#login button[type=submit]');
    await page.locator('#nav').waitFor();
    await page.goto(`${base}/ui/#/vms/${vmId}`);
    await page.locator('#console').waitFor();
    return { page, urls, problems };
  }

  test('an operator attaches, sees GUEST-READY, types a command and reads its answer', async () => {
    const { page, urls, problems } = await vmPage(TOKENS.operator);
    await page.click('button[data-action="console-attach"]');
    await page.locator('#console-status[data-console="open"]').waitFor();
    await page.locator('#console-output', { hasText: 'GUEST-READY' }).waitFor();
    await page.fill('#console-input input[name=line]', 'echo ui-$((6 * 7))');
    await page.press('#console-input input[name=line]', 'Enter');
    await page.locator('#console-output', { hasText: 'ui-42' }).waitFor();
    await page.screenshot({ path: join(SHOTS, '6-vm-console.png'), fullPage: true });
    await page.click('button[data-action="console-detach"]');
    await page.locator('#console-status[data-console="closed"]').waitFor();
    assert.deepEqual(problems, [], 'no script error and no CSP violation');
    for (const u of urls) assert.ok(!u.includes(TOKENS.operator), `the token never appears in a URL: ${u}`);
    assert.ok(
      urls.some((u) => /\/console\?ticket=/.test(u)),
      'the WebSocket was opened with a ticket',
    );
    await page.close();
  });

  test("a viewer's panel is read-only: the input line is disabled", async () => {
    const { page, problems } = await vmPage(TOKENS.viewer);
    await page.click('button[data-action="console-attach"]');
    await page.locator('#console-status[data-console="open"]', { hasText: 'read-only' }).waitFor();
    assert.equal(await page.locator('#console-input input[name=line]').isDisabled(), true);
    await page.locator('#console-output', { hasText: 'GUEST-READY' }).waitFor();
    await page.close();
    assert.deepEqual(problems, []);
  });
});
