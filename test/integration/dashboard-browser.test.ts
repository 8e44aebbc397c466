import { expect } from 'chai';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { artifactsDir, launchChromium } from '../support/browser.js';
import { haproxyTarget, type HaproxyHandle } from '../support/haproxy.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { freePort } from '../support/ports.js';
import { haproxyOnFirstConfig, startSwitchyard, waitForHealth, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
const TOKEN = 't0ken';

// The operator's page at `/`, driven in a real headless Chromium against a
// running daemon: Marathon (the double) → Switchyard → a real HAProxy.
describe('dashboard in a browser', function () {
  this.timeout(90_000);
  let dir: string;
  let marathon: MarathonDouble;
  let haproxy: HaproxyHandle;
  let sy: SwitchyardHandle;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  const rowIds = () => page.$$eval('#services-body tr', (rows) => rows.map((r) => r.getAttribute('data-id')));
  const backendsOf = (id: string) =>
    page.$$eval(`#services-body tr[data-id="${id}"] .backend`, (chips) => chips.map((c) => c.textContent));

  before(async () => {
    dir = tempDir('dashboard-browser-');
    marathon = new MarathonDouble({ keepAliveMs: 500 });
    const url = await marathon.start();
    marathon.addApp({ id: '/shop/web', ports: [await freePort()], labels: { team: 'shop' } });
    marathon.addTask('/shop/web', { host: '127.0.0.1', ports: [31001] });
    marathon.addTask('/shop/web', { host: '127.0.0.1', ports: [31002] });
    marathon.addApp({ id: '/search', labels: { HAPROXY_0_VHOST: 'search.example.com' } });
    marathon.addTask('/search', { host: '127.0.0.1', ports: [31010] });
    marathon.addApp({ id: '/hostile', labels: { [HOSTILE]: HOSTILE, note: `</td></tr></table>${HOSTILE}` } });
    for (let i = 0; i < 60; i++) marathon.addApp({ id: `/batch/job-${String(i).padStart(2, '0')}` });
    marathon.addRawApp(JSON.stringify({ id: `/x${HOSTILE}`, instances: 1, tasks: [] }));
    const output = join(dir, 'haproxy.cfg');
    const admin = join(dir, 'admin.sock');
    sy = await startSwitchyard(
      {
        marathon: { endpoints: [url], pollIntervalMs: 60_000, streamIdleTimeoutMs: 2000, requestTimeoutMs: 2000 },
        targets: [
          {
            ...haproxyTarget(dir, output),
            runtimeApi: admin,
            vars: { bind: '127.0.0.1', httpPort: await freePort(), statsSocket: admin },
          },
        ],
        reload: { quietMs: 10, maxDelayMs: 100 },
        http: { listen: '127.0.0.1:0', token: TOKEN },
      },
      dir,
    );
    haproxy = await haproxyOnFirstConfig(sy, output, dir);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    await page.goto(sy.url);
    await page.evaluate(() => ((window as unknown as { __loadedOnce: boolean }).__loadedOnce = true));
  });

  after(async () => {
    await browser?.close();
    await sy?.stop();
    await haproxy?.stop();
    await marathon?.stop();
  });

  it('shows the overall status, the source and the target as /health sees them', async () => {
    await page.waitForSelector('#status.ok');
    expect(await page.textContent('#sources-body tr[data-source="marathon"]')).to.include('healthy');
    expect(await page.textContent('#targets-body tr[data-target="haproxy"]')).to.match(/ok.*ago/);
  });

  it('lists the services, paged, with their backends', async () => {
    await page.waitForSelector('#services-body tr[data-id="/batch/job-00"]');
    expect(await rowIds()).to.have.length(50);
    expect(await page.textContent('#services-info')).to.equal('1–50 of 63');
    await page.click('#next');
    await page.waitForSelector('#services-body tr[data-id="/shop/web"]');
    expect((await backendsOf('/shop/web')).sort()).to.deep.equal(['127.0.0.1:31001', '127.0.0.1:31002']);
    expect(await page.textContent('#services-body tr[data-id="/search"]')).to.include('host search.example.com');
  });

  it('shows a scale event without a reload of the page', async () => {
    marathon.addTask('/shop/web', { host: '127.0.0.1', ports: [31003] });
    await eventually(async () => expect(await backendsOf('/shop/web')).to.include('127.0.0.1:31003'));
    expect(await page.evaluate(() => (window as unknown as { __loadedOnce?: boolean }).__loadedOnce)).to.equal(true);
    await eventually(async () =>
      expect(await page.textContent('#events-body tr.install')).to.include('live: /shop/web'),
    );
  });

  it('narrows the list as the operator types a search', async () => {
    await page.fill('#search', 'SEARCH.example');
    await eventually(async () => expect(await rowIds()).to.deep.equal(['/search']));
    expect(await page.textContent('#services-info')).to.equal('1–1 of 1 matching');
    await page.fill('#search', 'shop');
    await eventually(async () => expect(await rowIds()).to.deep.equal(['/shop/web']));
  });

  it('opens a service: its slots on HAProxy, what HAProxy says of them and its config fragment', async () => {
    await page.click('#services-body button[data-id="/shop/web"]');
    await page.waitForSelector('#detail section.target[data-target="haproxy"] table.slots');
    const slots = await page.textContent('#detail table.slots');
    expect(slots).to.match(/::shop::web\/s\d.*127\.0\.0\.1:31001/);
    expect(slots).to.include('running');
    expect(await page.textContent('#detail pre.fragment')).to.include('+backend ::shop::web');
  });

  it('shows registry values full of HTML and script as text — a refused app id, label keys and values — running none of it', async () => {
    await page.fill('#search', 'hostile');
    await eventually(async () => expect(await rowIds()).to.deep.equal(['/hostile']));
    await page.click('#services-body button[data-id="/hostile"]');
    await page.waitForSelector('#detail-id:text("/hostile")');
    await page.waitForSelector('#rejections-body tr[data-source="marathon"]');
    const refused = await page.$$eval('#rejections-body td', (tds) => tds.map((td) => td.textContent));
    expect(refused.join('\n')).to.include(`bad id ${JSON.stringify(`/x${HOSTILE}`).slice(0, 77)}`);
    expect(await page.$$('#rejections img, #rejections script')).to.have.length(0);
    const cells = await page.$$eval('#labels td', (tds) => tds.map((td) => td.textContent));
    expect(cells).to.include(HOSTILE);
    expect(cells).to.include(`</td></tr></table>${HOSTILE}`);
    expect(await page.$$('#detail img, #detail script, #labels table')).to.have.length(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).to.equal(undefined);
    const shot = join(artifactsDir(), 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`      screenshot: ${shot}`);
  });

  it('serves the page under a strict Content-Security-Policy, without an error in the console', async () => {
    const r = await fetch(sy.url);
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp)
      .to.include("script-src 'self'")
      .and.include("default-src 'none'")
      .and.include('require-trusted-types-for');
    expect(await r.text()).not.to.match(/<script>|<style>| on\w+=/);
    expect(problems).to.deep.equal([]);
  });

  it('releases a held change through its button once the token is given', async () => {
    marathon.answerEmpty(true);
    marathon.dropStreams();
    await page.waitForSelector('#held-body button.release[data-id="/shop/web"]');
    await page.click('#held-body button.release[data-id="/shop/web"]');
    await page.waitForSelector('#notice.bad');
    expect(await page.textContent('#notice')).to.include('needs the token');
    expect(await page.$('#held-body tr[data-id="/shop/web"]')).to.not.equal(null);
    await page.fill('#token', TOKEN);
    await page.click('#token-form button[type="submit"]');
    expect(await page.textContent('#token-state')).to.equal('token set for this tab');
    await page.click('#held-body button.release[data-id="/shop/web"]');
    await page.waitForSelector('#held-body tr[data-id="/shop/web"]', { state: 'detached' });
    await page.fill('#search', 'shop');
    await eventually(async () => expect(await rowIds()).to.deep.equal([]));
    marathon.answerEmpty(false);
    marathon.dropStreams();
    await page.click('#release-all').catch(() => undefined);
    await waitForHealth(sy, 'ok', 30_000);
    await eventually(async () => expect(await rowIds()).to.deep.equal(['/shop/web']));
  });
});
