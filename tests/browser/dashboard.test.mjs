// Browser tests of the dashboard (ui/) against a running `comptoir serve`.
//
// Run (node 20's built-in runner; playwright-core comes from ui/node_modules, so run
// scripts/ui-build first; Debian's Chromium at /usr/bin/chromium, `scripts/bootstrap test`):
//
//   COMPTOIR_URL=http://127.0.0.1:8080 \
//   COMPTOIR_PRODUCE='build/comptoir produce --bus ./bus --count 1' \
//   COMPTOIR_SCREENSHOTS=build/screenshots \
//   node --test tests/browser/
//
// Environment:
//   COMPTOIR_URL          base URL of `comptoir serve` with the Sales Data Sample imported and a bus
//                         (required; without it every test is skipped)
//   COMPTOIR_VIEW_URL     base URL of a second `comptoir serve --sales-from views` on the same lake (the
//                         view test is skipped without it)
//   COMPTOIR_PRODUCE      shell command that produces one live event (the Live test is skipped without it)
//   COMPTOIR_SCREENSHOTS  directory for overview.png, live.png, logs.png, health.png, quality.png, lake.png,
//                         overview-mobile.png (the screenshot test is skipped without it)
//   COMPTOIR_TOKEN        access token, when the server runs with --auth-token-file
//   COMPTOIR_CHROMIUM     browser binary (default /usr/bin/chromium)
//
// Stable data-testid values in the dashboard (docs/dashboard.md has the same list):
//   shell     tab-overview tab-live tab-logs tab-health tab-lake, view-<tab> (data-state=
//             loading|ready|error), theme-toggle, error-banner, error-dismiss,
//             login-dialog, login-form, login-token, login-submit
//   overview  filters, filter-from, filter-to, filter-productline, filter-country, filter-status,
//             filter-dealsize, filter-territory (<details> multi-selects: data-value = selection
//             joined with commas, one checkbox per value, labelled by the value),
//             filter-customer, filter-reset, overview-dataset,
//             kpis, kpi-total-sales, kpi-orders, kpi-avg-order, kpi-customers, kpi-rows,
//             kpi-quantity (text = formatted value, data-value = the API's raw number),
//             panel-<id> and export-<id> for id in timeseries productline dealsize status
//             customers country territory orders, timeseries-bucket, chart-timeseries
//             chart-productline chart-dealsize chart-status chart-customers chart-country
//             chart-territory,
//             orders-table, orders-sort-<column>, orders-search, orders-export,
//             orders-prev, orders-next, orders-page
//   live      live-status (data-state=connecting|connected|reconnecting|paused|closed), live-pause,
//             live-events-total (events today, UTC), live-today-revenue, live-events-window,
//             live-revenue-window, live-rate, live-latency, live-malformed,
//             chart-live-events chart-live-revenue chart-live-status chart-live-productline,
//             live-latest (rows carry data-event-id), panel-/export-live-events live-revenue
//             live-status live-productline live-latest
//   logs      logs-form, logs-query, logs-regex, logs-levels, logs-level-error|warning|info|debug,
//             logs-from, logs-to, logs-limit, logs-search, logs-tail (aria-pressed),
//             logs-tail-badge, logs-meta, logs-results (rows carry data-level), panel-/export-logs
//   health    health-overall (data-state=ok|degraded|down), health-refresh, health-refreshed,
//             health-components, health-component (data-name, data-status), health-status
//   quality   quality-datasets, quality-dataset (data-dataset, data-status), quality-outcome, quality-rows-in,
//             quality-rows-out, quality-rejected, quality-warned (data-value), quality-failure, quality-rule
//             (data-number, data-failed), quality-rejects-link (data-run), quality-rejects, quality-reject,
//             quality-rejects-note, quality-prev, quality-next, quality-refresh, quality-empty
//   lake      lake-breadcrumbs, lake-entries, lake-entry (data-type=dir|file, data-name),
//             lake-up, lake-preview, lake-preview-note, panel-/export-lake-list lake-preview
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { exec } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(new URL('../../ui/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const BASE = (process.env.COMPTOIR_URL ?? '').replace(/\/+$/, '');
const VIEW_URL = (process.env.COMPTOIR_VIEW_URL ?? '').replace(/\/+$/, '');
const PRODUCE = process.env.COMPTOIR_PRODUCE ?? '';
const SHOTS = process.env.COMPTOIR_SCREENSHOTS ?? '';
const TOKEN = process.env.COMPTOIR_TOKEN ?? '';
const CHROMIUM = process.env.COMPTOIR_CHROMIUM ?? '/usr/bin/chromium';
const TABS = ['overview', 'live', 'logs', 'health', 'quality', 'lake'];

// The dashboard's formats, written independently (Intl) so a formatter bug shows up.
const moneyFmt = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const KPIS = [
  ['kpi-total-sales', 'total_sales', moneyFmt],
  ['kpi-orders', 'orders', intFmt],
  ['kpi-avg-order', 'avg_sales_per_order', moneyFmt],
  ['kpi-customers', 'customers', intFmt],
  ['kpi-rows', 'rows', intFmt],
  ['kpi-quantity', 'quantity', intFmt],
];

/** Polls fn until it returns a truthy value or `ms` pass; returns the last value. */
async function until(fn, ms, step = 100) {
  const end = Date.now() + ms;
  let v;
  for (;;) {
    v = await fn();
    if (v || Date.now() >= end) return v;
    await new Promise((r) => setTimeout(r, step));
  }
}

function run(cmd) {
  return new Promise((resolve, reject) => {
    exec(cmd, { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd}: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

describe('dashboard', { skip: BASE ? false : 'COMPTOIR_URL is not set' }, () => {
  let browser;
  let context;
  let page;
  const problems = []; // console errors and warnings, page errors

  function watch(p, where) {
    p.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${where}: console.${m.type()}: ${m.text()}`);
    });
    p.on('pageerror', (e) => problems.push(`${where}: uncaught: ${e.message}`));
  }

  async function api(pathAndQuery) {
    const res = await context.request.get(BASE + pathAndQuery);
    assert.ok(res.ok(), `GET ${pathAndQuery}: HTTP ${res.status()} ${await res.text()}`);
    return res.json();
  }

  async function ready(p, tab) {
    await p.locator(`[data-testid="view-${tab}"][data-state="ready"]`).waitFor({ timeout: 15_000 });
  }

  async function kpiTexts(p) {
    const out = {};
    for (const [id] of KPIS) {
      const el = p.getByTestId(id);
      out[id] = { text: (await el.textContent())?.trim(), value: await el.getAttribute('data-value') };
    }
    return out;
  }

  /** Waits until every KPI shows the API summary for `query`; asserts on the last reading. */
  async function expectKpis(p, query) {
    const s = await api(`/api/v1/sales/summary${query ? `?${query}` : ''}`);
    const want = Object.fromEntries(KPIS.map(([id, key, fmt]) => [id, { text: fmt.format(s[key]), value: String(s[key]) }]));
    let got;
    await until(async () => {
      got = await kpiTexts(p);
      return JSON.stringify(got) === JSON.stringify(want);
    }, 10_000);
    assert.deepEqual(got, want, `KPIs for ?${query}`);
    return s;
  }

  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    context = await browser.newContext({ viewport: { width: 1440, height: 900 }, reducedMotion: 'reduce' });
    if (TOKEN) {
      const res = await context.request.post(`${BASE}/api/v1/login`, { data: { token: TOKEN } });
      assert.ok(res.ok(), `login: HTTP ${res.status()}`);
    }
    page = await context.newPage();
    watch(page, 'desktop');
  });

  after(async () => {
    await browser?.close();
  });

  test('overview KPIs equal the API summary', { timeout: 60_000 }, async () => {
    await page.goto(`${BASE}/#/overview`);
    await ready(page, 'overview');
    const s = await expectKpis(page, '');
    assert.ok(s.rows > 0, 'the dataset has rows');
  });

  test('a product line filter updates the URL hash and the KPIs', { timeout: 60_000 }, async () => {
    const ms = page.getByTestId('filter-productline');
    await ms.locator('summary').click();
    await ms.getByLabel('Motorcycles', { exact: true }).check();
    await page.keyboard.press('Escape');
    await until(() => page.evaluate(() => location.hash.includes('productline=Motorcycles')), 5_000);
    assert.match(await page.evaluate(() => location.hash), /^#\/overview\?(.*&)?productline=Motorcycles(&|$)/);
    await expectKpis(page, 'productline=Motorcycles');

    await page.getByTestId('filter-from').fill('2004-01-01');
    await until(() => page.evaluate(() => location.hash.includes('from=2004-01-01')), 5_000);
    assert.match(await page.evaluate(() => location.hash), /from=2004-01-01/);
    await expectKpis(page, 'from=2004-01-01&productline=Motorcycles');
  });

  test('reloading the URL restores the filters and the numbers', { timeout: 60_000 }, async () => {
    const hash = await page.evaluate(() => location.hash);
    await page.reload();
    await ready(page, 'overview');
    assert.equal(await page.evaluate(() => location.hash), hash);
    assert.equal(await page.getByTestId('filter-productline').getAttribute('data-value'), 'Motorcycles');
    assert.equal(await page.getByTestId('filter-from').inputValue(), '2004-01-01');
    await expectKpis(page, 'from=2004-01-01&productline=Motorcycles');
  });

  test('served from a view, the Sales tab says so and shows the rows\' numbers', { timeout: 60_000, skip: VIEW_URL ? false : 'COMPTOIR_VIEW_URL is not set' }, async () => {
    const query = 'from=2004-01-01&productline=Motorcycles';
    const rows = await api(`/api/v1/sales/summary?${query}`);
    assert.equal(rows.dataset.from, 'rows');
    const res = await context.request.get(`${VIEW_URL}/api/v1/sales/summary?${query}`);
    assert.ok(res.ok(), `view server: HTTP ${res.status()}`);
    const fromView = await res.json();
    assert.equal(fromView.dataset.from, 'views');
    assert.equal(fromView.dataset.view.engine, 'embedded');
    const p = await context.newPage();
    watch(p, 'view');
    try {
      await p.goto(`${VIEW_URL}/#/overview?${query}`);
      await ready(p, 'overview');
      const want = Object.fromEntries(KPIS.map(([id, key, fmt]) => [id, { text: fmt.format(rows[key]), value: String(rows[key]) }]));
      let got;
      await until(async () => JSON.stringify((got = await kpiTexts(p))) === JSON.stringify(want), 10_000);
      assert.deepEqual(got, want, 'the view\'s KPIs are the rows\'');
      assert.match(await p.getByTestId('overview-dataset').textContent(),
        /^From views built (just now|\d+ \w+ ago) by embedded \(\/user\/comptoir\/views\/browser, [\d,]+ records for [\d,]+ rows\)/);
    } finally {
      await p.close();
    }
  });

  test('live shows a produced event within 2 s', { timeout: 60_000, skip: PRODUCE ? false : 'COMPTOIR_PRODUCE is not set' }, async () => {
    await page.goto(`${BASE}/#/live`);
    await ready(page, 'live');
    await until(async () => (await page.getByTestId('live-status').getAttribute('data-state')) === 'connected', 5_000);
    assert.equal(await page.getByTestId('live-status').getAttribute('data-state'), 'connected');
    const total = page.getByTestId('live-events-total');
    const before = Number(await total.getAttribute('data-value'));
    await run(PRODUCE);
    const t0 = Date.now();
    const rose = await until(async () => Number(await total.getAttribute('data-value')) > before, 2_000, 50);
    assert.ok(rose, `live-events-total stayed at ${before} for 2 s after the produce command (now ${await total.getAttribute('data-value')})`);
    assert.ok(Date.now() - t0 <= 2_200);
    assert.ok((await page.getByTestId('live-latest').locator('tbody tr[data-event-id]').count()) > 0, 'latest transactions has rows');
  });

  test('quality shows the last run, its rules and its rejects as the API does', { timeout: 60_000 }, async () => {
    const q = await api('/api/v1/quality');
    assert.equal(q.datasets.length, 1, 'one dataset with rules');
    const d = q.datasets[0];
    const last = d.runs[d.runs.length - 1];
    assert.ok(last.rejected > 0, 'the run rejected records');
    await page.goto(`${BASE}/#/quality`);
    await ready(page, 'quality');
    const card = page.locator(`[data-testid="quality-dataset"][data-dataset="${d.dataset}"]`);
    for (const [id, key] of [['quality-rows-in', 'rows_in'], ['quality-rows-out', 'rows_out'], ['quality-rejected', 'rejected'], ['quality-warned', 'warned']]) {
      assert.equal(await card.getByTestId(id).getAttribute('data-value'), String(last[key]), id);
      assert.equal((await card.getByTestId(id).textContent()).trim(), intFmt.format(last[key]), id);
    }
    const rules = card.getByTestId('quality-rule');
    assert.equal(await rules.count(), last.rules.length);
    for (let i = 0; i < last.rules.length; ++i) {
      assert.equal(await rules.nth(i).getAttribute('data-failed'), String(last.rules[i].failed));
    }
    await card.locator(`[data-testid="quality-rejects-link"][data-run="${last.run}"]`).click();
    const page1 = await api(`/api/v1/quality/rejects?dataset=${encodeURIComponent(d.dataset)}&run=${encodeURIComponent(last.run)}&limit=25`);
    assert.equal(page1.total, last.rejected);
    const rows = page.getByTestId('quality-reject');
    await until(async () => (await rows.count()) === Math.min(25, page1.total), 10_000);
    assert.equal(await rows.count(), Math.min(25, page1.total));
    const first = await rows.first().locator('td').allTextContents();
    assert.deepEqual(first, page1.rows[0].map((v) => (v === null ? 'NULL' : v)));
    assert.match(await page.getByTestId('quality-rejects-note').textContent(), new RegExp(`records 1–${Math.min(25, page1.total)} of ${page1.total}`));
  });

  test('no console errors or warnings on any tab', { timeout: 120_000 }, async () => {
    await page.goto(`${BASE}/#/overview`);
    await ready(page, 'overview');
    for (const tab of TABS) {
      await page.getByTestId(`tab-${tab}`).click();
      await ready(page, tab);
      assert.equal(await page.getByTestId(`tab-${tab}`).getAttribute('aria-selected'), 'true');
      assert.equal(await page.getByTestId('error-banner').isVisible(), false, `error banner on ${tab}: ${await page.getByTestId('error-banner').textContent()}`);
    }
    // Theme toggle both ways, keyboard on the tablist.
    await page.getByTestId('theme-toggle').click();
    await page.getByTestId('theme-toggle').click();
    await page.getByTestId('tab-lake').focus();
    await page.keyboard.press('Home');
    await ready(page, 'overview');
    assert.equal(await page.getByTestId('tab-overview').getAttribute('aria-selected'), 'true');
    assert.deepEqual(problems, []);
  });

  test('screenshots of every tab', { timeout: 120_000, skip: SHOTS ? false : 'COMPTOIR_SCREENSHOTS is not set' }, async () => {
    mkdirSync(SHOTS, { recursive: true });
    const shot = await browser.newContext({ viewport: { width: 1440, height: 900 }, reducedMotion: 'reduce', storageState: await context.storageState() });
    const p = await shot.newPage();
    watch(p, 'screenshots');
    for (const tab of TABS) {
      // The lake shot shows the imported table and a preview of its first file.
      await p.goto(`${BASE}/#/${tab}${tab === 'lake' ? '?path=/user/sqoop/sales' : ''}`);
      await ready(p, tab);
      if (tab === 'live') await until(async () => Number(await p.getByTestId('live-events-window').getAttribute('data-value')) > 0, 3_000);
      if (tab === 'lake') {
        const file = p.locator('[data-testid="lake-entry"][data-type="file"] button').first();
        if (await file.count()) {
          await file.click();
          await p.getByTestId('lake-preview').locator('text=/./').first().waitFor({ timeout: 5_000 }).catch(() => {});
        }
      }
      await p.screenshot({ path: path.join(SHOTS, `${tab}.png`), fullPage: true });
    }
    await shot.close();

    const mobile = await browser.newContext({
      viewport: { width: 360, height: 780 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      reducedMotion: 'reduce',
      storageState: await context.storageState(),
    });
    const m = await mobile.newPage();
    watch(m, 'mobile');
    for (const tab of [...TABS.slice(1), 'overview']) {
      await m.goto(`${BASE}/#/${tab}`);
      await ready(m, tab);
      const overflow = await m.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${tab} scrolls sideways by ${overflow} px at 360 px`);
    }
    await m.screenshot({ path: path.join(SHOTS, 'overview-mobile.png'), fullPage: true });
    await mobile.close();
    assert.deepEqual(problems, []);
  });
});
