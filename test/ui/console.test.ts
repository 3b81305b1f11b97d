/**
 * Issue 17 item 3: the web console at /ui, driven as a user would, in Debian's
 * chromium (headless, through playwright-core) against a real app (Redis, SQLite,
 * in-process workers, a simulated host): log in by pasting a token, create a VM
 * through the form, watch it reach `running` through the live event feed (no
 * reload), open its page, move the history slider, stop it after a confirmation.
 * Screenshots land in dist/ui-screenshots.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CONSOLE_CSP } from '../../src/runtime/web-console.js';
import { startTestApp, TOKENS, type TestApp } from '../support/app.js';
import { registerSimHost, type Json } from '../support/e2e.js';
import { waitFor } from '../support/wait.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'dist', 'ui-screenshots');
const UI_TIMEOUT = 20_000;

describe('web console (/ui) in headless chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;
  let hostId: string;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestApp();
    hostId = (await registerSimHost(t, 'sim-ui', 'simulated://?latencyMs=200', { vcpus: 8, memoryMiB: 8192 }))
      .id as string;
    await t.app.listen(0, '127.0.0.1');
    base = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await t?.close();
  });

  /** A fresh page that records every request URL and every script error or CSP violation. */
  async function openPage(): Promise<{ page: Page; urls: string[]; problems: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.setDefaultTimeout(UI_TIMEOUT);
    const urls: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    return { page, urls, problems };
  }

  async function login(page: Page, token: string): Promise<void> {
    await page.goto(`${base}/ui/`);
    await page.fill('#token', token);
    await page.click('#login button[type=submit]');
  }

  test('static files: content types, self-only CSP without upgrade-insecure-requests, /ui redirects to /ui/', async () => {
    const index = await t.http().get('/ui/');
    assert.equal(index.status, 200);
    assert.match(index.headers['content-type'], /^text\/html/);
    assert.equal(index.headers['content-security-policy'], CONSOLE_CSP);
    assert.doesNotMatch(index.headers['content-security-policy'], /upgrade-insecure-requests/);
    assert.equal(index.headers['strict-transport-security'], undefined);
    assert.doesNotMatch(index.text, /<script>/, 'no inline script: the CSP forbids it');
    const js = await t.http().get('/ui/main.js');
    assert.equal(js.status, 200);
    assert.match(js.headers['content-type'], /javascript/);
    assert.equal(js.headers['x-content-type-options'], 'nosniff');
    const css = await t.http().get('/ui/console.css');
    assert.match(css.headers['content-type'], /^text\/css/);
    const bare = await t.http().get('/ui');
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.location, '/ui/');
    const missing = await t.http().get('/ui/nope.js');
    assert.equal(missing.status, 404);
  });

  test('a wrong token is refused on the login form and not kept', async () => {
    const { page, problems } = await openPage();
    await login(page, 'not-a-token');
    await page.locator('#view .error').waitFor();
    assert.equal(await page.evaluate("sessionStorage.getItem('virtledger.token')"), null);
    assert.equal(await page.locator('#login').count(), 1, 'still on the login form');
    await page.close();
    assert.deepEqual(
      problems.filter((p) => !/401/.test(p)),
      [],
    );
  });

  test('log in, see the host, create a VM, watch it run live, move the slider, stop it with a confirmation', async () => {
    const { page, urls, problems } = await openPage();
    await login(page, TOKENS.admin);
    await page.locator('#live[data-live="live"]').waitFor();

    await page.click('a[href="#/hosts"]');
    await page.locator(`#hosts tr[data-host="${hostId}"]`).waitFor();
    await page.screenshot({ path: join(SHOTS, '1-hosts.png'), fullPage: true });

    await page.click('a[href="#/vms"]');
    await page.locator('#live[data-live="live"]').waitFor();
    await page.fill('#create-vm input[name=name]', 'web-1');
    await page.fill('#create-vm input[name=memoryMiB]', '128');
    await page.click('#create-vm button[type=submit]');
    // Only the event feed refreshes the list: no reload, no navigation from here on.
    await page.locator('tr[data-name="web-1"] [data-state="running"]').waitFor();
    await page.screenshot({ path: join(SHOTS, '2-vms-running.png'), fullPage: true });

    const vms = (await t.as('admin').get('/v1/vms?name=web-1')).body.items as Json[];
    assert.equal(vms.length, 1);
    const vmId = vms[0]!.id as string;
    assert.equal(vms[0]!.state, 'running');
    // The host page shows what the VM took.
    await page.click('a[href="#/hosts"]');
    await page.locator(`#hosts tr[data-host="${hostId}"]`, { hasText: '1 / 8 vCPU' }).waitFor();

    await page.click('a[href="#/vms"]');
    await page.click('tr[data-name="web-1"] a');
    await page.locator('#operations tr', { hasText: 'create' }).waitFor();
    await page.locator('#state-at[data-state="running"]').waitFor();
    const min = Number(await page.locator('#revision').getAttribute('min'));
    const max = Number(await page.locator('#revision').getAttribute('max'));
    assert.ok(max > min, `a history to slide over (r${min}..r${max})`);
    await page.locator('#revision').fill(String(min));
    const first = page.locator(`#state-at[data-revision="${min}"]`);
    await first.waitFor();
    const firstState = await first.getAttribute('data-state');
    assert.notEqual(firstState, 'running', 'the first revision shows the VM before it ran');
    const atFirst = (await t.as('admin').get(`/v1/vms/${vmId}?revision=${min}`)).body as Json;
    assert.equal(firstState, atFirst.state, 'the slider shows what the API says about that revision');
    await page.locator(`.timeline li.current[data-revision="${min}"]`).waitFor();
    await page.screenshot({ path: join(SHOTS, '3-vm-history-first-revision.png'), fullPage: true });
    // A click on the timeline moves the slider too.
    await page.click(`.timeline li[data-revision="${max}"]`);
    assert.equal(await page.locator('#revision').inputValue(), String(max));
    await page.locator(`#state-at[data-revision="${max}"][data-state="running"]`).waitFor();
    // The diff between two points: the first revision against the last.
    await page.fill('#compare', String(min));
    await page.locator('#compare').dispatchEvent('change');
    await page.locator(`#diff th`, { hasText: `r${min}` }).waitFor();
    const stateRow = page.locator('#diff tr', { has: page.locator('td', { hasText: /^state$/ }) });
    // One row per change, each with the event that made it: from the first state, ending at running.
    const stateCells = await Promise.all((await stateRow.all()).map((r) => r.locator('td').allTextContents()));
    assert.ok(stateCells.length >= 1, 'the state changed between the two points');
    assert.equal(stateCells[0]![1], String(firstState));
    assert.equal(stateCells.at(-1)![2], 'running');
    assert.match(stateCells.at(-1)![3]!, /^r\d+ Vm\w+ · admin/);

    // Dismissed: nothing is sent.
    const opsBefore = (await t.as('admin').get(`/v1/operations?vmId=${vmId}`)).body.items.length as number;
    page.once('dialog', (d) => void d.dismiss());
    await page.click('button[data-action="stop"]');
    const opsAfterDismiss = (await t.as('admin').get(`/v1/operations?vmId=${vmId}`)).body.items.length as number;
    assert.equal(opsAfterDismiss, opsBefore, 'a dismissed confirmation sends no command');
    // Accepted: the VM stops, and the page follows by itself.
    page.once('dialog', (d) => {
      assert.match(d.message(), /Stop VM "web-1"\?/);
      void d.accept();
    });
    await page.click('button[data-action="stop"]');
    await page.locator('h1 [data-state="stopped"]').waitFor();
    await waitFor(async () => (await t.as('admin').get(`/v1/vms/${vmId}`)).body.state === 'stopped', {
      what: 'the VM stopped through the console',
    });
    await page.screenshot({ path: join(SHOTS, '4-vm-stopped.png'), fullPage: true });

    await page.click('a[href="#/audit"]');
    await page.locator('#verify [data-verified="true"]').waitFor();
    await page.screenshot({ path: join(SHOTS, '5-audit.png'), fullPage: true });

    assert.deepEqual(problems, [], 'no script error and no CSP violation');
    for (const u of urls) assert.ok(!u.includes(TOKENS.admin), `the token never appears in a URL: ${u}`);
    await page.close();
  });

  test('a viewer (no event stream for that role) gets the list refreshed by polling, said on the page', async () => {
    const { page } = await openPage();
    await login(page, TOKENS.viewer);
    await page.locator('#live[data-live="polling"]').waitFor();
    await page.locator('tr[data-name="web-1"]').waitFor();
    await page.close();
  });
});
