#!/usr/bin/env node
// DEV ONLY. A stand-in for `comptoir serve` while the C++ server is being written, so the
// dashboard can be developed and looked at. It is not used by any test and is not shipped.
//
// It follows docs/api.md: sales endpoints computed from ../shared/data/sales_data_sample.csv
// (exact cents), a simulated live stream over SSE, synthetic logs, a small fake lake and
// health. It also serves ui/dist/ with the CSP the real server sends.
//
//   node ui/dev/mock-server.mjs                 # http://127.0.0.1:8080
//   PORT=8090 MOCK_TOKEN=secret node ui/dev/mock-server.mjs   # require a login
//   curl -X POST http://127.0.0.1:8080/dev/produce            # inject one live event now
//
// Options (environment): PORT, HOST, MOCK_TOKEN (require login), MOCK_RATE (events/s, default 2),
// MOCK_CSV (path of the sales CSV).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const uiDir = path.resolve(here, '..');
const repo = path.resolve(uiDir, '..');
const PORT = Number(process.env.PORT ?? 8080);
const HOST = process.env.HOST ?? '127.0.0.1';
const TOKEN = process.env.MOCK_TOKEN ?? '';
const RATE = Number(process.env.MOCK_RATE ?? 2);
const CSV = process.env.MOCK_CSV ?? path.resolve(repo, '../shared/data/sales_data_sample.csv');
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

// ---------------------------------------------------------------- sales data
const CP437 = { 0x84: 'ä', 0xa1: 'í', 0xa4: 'ñ', 0x81: 'ü', 0x94: 'ö', 0x82: 'é' };
function decode(buf) {
  let s = '';
  for (const b of buf) s += b < 0x80 ? String.fromCharCode(b) : CP437[b] ?? String.fromCharCode(b);
  return s;
}
function parseCsvLine(line) {
  const out = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') out.push(cur), (cur = '');
    else cur += c;
  }
  out.push(cur);
  return out;
}
const cents = (s) => {
  const [i, f = ''] = s.split('.');
  return Number(i) * 100 + Number((f + '00').slice(0, 2));
};
const pad = (n, w = 2) => String(n).padStart(w, '0');

function loadSales() {
  if (!fs.existsSync(CSV)) {
    console.error(`mock: ${CSV} not found; sales endpoints will be empty`);
    return [];
  }
  const lines = decode(fs.readFileSync(CSV)).split('\n').filter(Boolean);
  const head = parseCsvLine(lines[0]);
  const ix = Object.fromEntries(head.map((h, i) => [h, i]));
  return lines.slice(1).map((l) => {
    const f = parseCsvLine(l);
    const [m, d, y] = f[ix.ORDERDATE].split(' ')[0].split('/');
    return {
      ordernumber: Number(f[ix.ORDERNUMBER]),
      orderlinenumber: Number(f[ix.ORDERLINENUMBER]),
      orderdate: `${y}-${pad(m)}-${pad(d)}`,
      customer: f[ix.CUSTOMERNAME],
      productline: f[ix.PRODUCTLINE],
      productcode: f[ix.PRODUCTCODE],
      quantity: Number(f[ix.QUANTITYORDERED]),
      price_c: cents(f[ix.PRICEEACH]),
      sales_c: cents(f[ix.SALES]),
      status: f[ix.STATUS],
      dealsize: f[ix.DEALSIZE],
      country: f[ix.COUNTRY],
      territory: f[ix.TERRITORY],
    };
  });
}
const SALES = loadSales();
const DIMS = ['productline', 'country', 'status', 'dealsize', 'territory'];
const distinct = (k) => [...new Set(SALES.map((r) => r[k]))].sort();
const OPTIONS = Object.fromEntries(DIMS.map((k) => [k, distinct(k)]));
const DATES = SALES.map((r) => r.orderdate).sort();

class HttpError extends Error {
  constructor(status, error, message) {
    super(message);
    this.status = status;
    this.error = error;
  }
}
const bad = (msg) => new HttpError(400, 'bad_request', msg);

function filterRows(q, extra = []) {
  const allowed = new Set(['from', 'to', 'customer', ...DIMS, ...extra]);
  for (const k of q.keys()) if (!allowed.has(k)) throw bad(`unknown parameter '${k}' (expected ${[...allowed].join(', ')})`);
  const lists = {};
  for (const k of DIMS) {
    const v = q.get(k);
    if (!v) continue;
    lists[k] = v.split(',');
    for (const x of lists[k])
      if (!OPTIONS[k].includes(x)) throw bad(`parameter '${k}': unknown value '${x}' (expected ${OPTIONS[k].join(', ')})`);
  }
  for (const k of ['from', 'to']) {
    const v = q.get(k);
    if (v && !/^\d{4}-\d{2}-\d{2}$/.test(v)) throw bad(`parameter '${k}': '${v}' is not a date YYYY-MM-DD`);
  }
  const from = q.get('from');
  const to = q.get('to');
  const cust = (q.get('customer') ?? '').toLowerCase();
  return SALES.filter(
    (r) =>
      (!from || r.orderdate >= from) &&
      (!to || r.orderdate <= to) &&
      (!cust || r.customer.toLowerCase().includes(cust)) &&
      DIMS.every((k) => !lists[k] || lists[k].includes(r[k])),
  );
}

function groupBy(rows, key) {
  const m = new Map();
  for (const r of rows) {
    const k = key(r);
    const g = m.get(k) ?? { key: k, sales_c: 0, rows: 0, orders: new Set() };
    g.sales_c += r.sales_c;
    g.rows++;
    g.orders.add(r.ordernumber);
    m.set(k, g);
  }
  return [...m.values()].map((g) => ({ key: g.key, sales: g.sales_c / 100, rows: g.rows, orders: g.orders.size, _c: g.sales_c }));
}
const bySales = (a, b) => b._c - a._c || (a.key < b.key ? -1 : 1);
const byKey = (a, b) => (a.key < b.key ? -1 : 1);
const strip = (gs) => gs.map(({ _c, ...g }) => g);
const divRound = (a, b) => (b ? Math.round(a / b) / 100 : 0);

function summary(q) {
  const t0 = performance.now();
  const rows = filterRows(q);
  const total = rows.reduce((s, r) => s + r.sales_c, 0);
  const orders = new Set(rows.map((r) => r.ordernumber)).size;
  return {
    rows: rows.length,
    orders,
    customers: new Set(rows.map((r) => r.customer)).size,
    quantity: rows.reduce((s, r) => s + r.quantity, 0),
    total_sales: total / 100,
    avg_sales_per_row: divRound(total, rows.length),
    avg_sales_per_order: divRound(total, orders),
    by_productline: strip(groupBy(rows, (r) => r.productline).sort(bySales)),
    by_status: strip(groupBy(rows, (r) => r.status).sort(bySales)),
    by_dealsize: strip(groupBy(rows, (r) => r.dealsize).sort(bySales)),
    by_country: strip(groupBy(rows, (r) => r.country).sort(bySales)),
    by_territory: strip(groupBy(rows, (r) => r.territory).sort(bySales)),
    by_year: strip(groupBy(rows, (r) => r.orderdate.slice(0, 4)).sort(byKey)),
    by_month: strip(groupBy(rows, (r) => r.orderdate.slice(0, 7)).sort(byKey)),
    top_customers: strip(groupBy(rows, (r) => r.customer).sort(bySales).slice(0, 10)),
    dataset: { path: '/user/sqoop/sales', version: 3, rows: SALES.length, files: 1 },
    elapsed_ms: Math.round((performance.now() - t0) * 100) / 100,
    cached: false,
  };
}

function isoWeek(date) {
  const d = new Date(date + 'T00:00:00Z');
  const day = (d.getUTCDay() + 6) % 7; // Monday = 0
  const monday = new Date(d.getTime() - day * 86400e3);
  const thursday = new Date(monday.getTime() + 3 * 86400e3);
  const year = thursday.getUTCFullYear();
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const week1 = new Date(jan4.getTime() - ((jan4.getUTCDay() + 6) % 7) * 86400e3);
  const w = Math.round((monday - week1) / (7 * 86400e3)) + 1;
  return { key: `${year}-W${pad(w)}`, start: monday.toISOString().slice(0, 10) };
}
function bucketOf(date, bucket) {
  const y = date.slice(0, 4);
  const m = Number(date.slice(5, 7));
  switch (bucket) {
    case 'day':
      return { key: date, start: date };
    case 'week':
      return isoWeek(date);
    case 'month':
      return { key: date.slice(0, 7), start: `${date.slice(0, 7)}-01` };
    case 'quarter': {
      const qn = Math.floor((m - 1) / 3) + 1;
      return { key: `${y}-Q${qn}`, start: `${y}-${pad((qn - 1) * 3 + 1)}-01` };
    }
    default:
      return { key: y, start: `${y}-01-01` };
  }
}
function timeseries(q) {
  const bucket = q.get('bucket') ?? 'month';
  if (!['day', 'week', 'month', 'quarter', 'year'].includes(bucket))
    throw bad(`parameter 'bucket': unknown value '${bucket}' (expected day, week, month, quarter, year)`);
  q.delete('bucket');
  const rows = filterRows(q);
  const starts = new Map();
  const groups = groupBy(rows, (r) => {
    const b = bucketOf(r.orderdate, bucket);
    starts.set(b.key, b.start);
    return b.key;
  }).sort(byKey);
  return { bucket, points: strip(groups).map((g) => ({ key: g.key, start: starts.get(g.key), sales: g.sales, rows: g.rows, orders: g.orders })) };
}

const SORTABLE = ['ordernumber', 'orderdate', 'customer', 'productline', 'productcode', 'quantity', 'priceeach', 'sales', 'status', 'dealsize', 'country', 'territory'];
const publicRow = (r) => ({
  ordernumber: r.ordernumber,
  orderlinenumber: r.orderlinenumber,
  orderdate: r.orderdate,
  customer: r.customer,
  productline: r.productline,
  productcode: r.productcode,
  quantity: r.quantity,
  priceeach: r.price_c / 100,
  sales: r.sales_c / 100,
  status: r.status,
  dealsize: r.dealsize,
  country: r.country,
  territory: r.territory,
});
function rows(q) {
  const sort = q.get('sort') ?? '-orderdate';
  const limit = Number(q.get('limit') ?? 50);
  const offset = Number(q.get('offset') ?? 0);
  const col = sort.replace(/^-/, '');
  if (!SORTABLE.includes(col)) throw bad(`parameter 'sort': unknown column '${col}' (expected ${SORTABLE.join(', ')})`);
  if (!(limit >= 1 && limit <= 1000)) throw bad(`parameter 'limit': ${q.get('limit')} is not in 1..1000`);
  if (!(offset >= 0)) throw bad(`parameter 'offset': ${q.get('offset')} is not >= 0`);
  for (const k of ['sort', 'limit', 'offset']) q.delete(k);
  const key = col === 'priceeach' ? 'price_c' : col === 'sales' ? 'sales_c' : col;
  const dir = sort.startsWith('-') ? -1 : 1;
  const all = filterRows(q).sort(
    (a, b) => (a[key] < b[key] ? -dir : a[key] > b[key] ? dir : a.ordernumber - b.ordernumber || a.orderlinenumber - b.orderlinenumber),
  );
  return { total: all.length, offset, limit, rows: all.slice(offset, offset + limit).map(publicRow) };
}

// ---------------------------------------------------------------- live stream
const WINDOW = 900;
const CUSTOMERS = [...new Set(SALES.map((r) => `${r.customer}|${r.country}`))];
let seq = 0;
let rnd = 42;
const random = () => ((rnd = (rnd * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = (a) => a[Math.floor(random() * a.length)];
function makeEvent(ts) {
  const [customer, country] = (CUSTOMERS.length ? pick(CUSTOMERS) : 'Land of Toys Inc.|USA').split('|');
  const quantity = 20 + Math.floor(random() * 30);
  const price_c = 3000 + Math.floor(random() * 7000);
  const amount_c = quantity * price_c;
  return {
    event_id: `pmock-${pad(++seq, 12)}`,
    ts: new Date(ts).toISOString(),
    order_number: 10100 + Math.floor(random() * 400),
    customer,
    country,
    product_line: pick(OPTIONS.productline?.length ? OPTIONS.productline : ['Classic Cars']),
    quantity,
    amount: amount_c / 100,
    status: random() < 0.9 ? 'Shipped' : pick(['In Process', 'On Hold', 'Cancelled', 'Resolved', 'Disputed']),
    deal_size: amount_c < 300000 ? 'Small' : amount_c <= 700000 ? 'Medium' : 'Large',
  };
}
// seconds -> events of that second (newest first)
const perSecond = new Map();
const nowS = () => Math.floor(Date.now() / 1000);
{
  const start = nowS() - WINDOW;
  for (let t = start; t < nowS(); t++) {
    const n = Math.floor(random() * RATE * 2 + 0.5);
    const evs = [];
    for (let i = 0; i < n; i++) evs.unshift(makeEvent(t * 1000 + Math.floor(random() * 1000)));
    perSecond.set(t, evs);
  }
}
let todayEvents = 6000;
let todayRevenueC = 2041002275;
for (const evs of perSecond.values()) for (const e of evs) (todayEvents++, (todayRevenueC += Math.round(e.amount * 100)));
const injected = [];

function sumOf(evs) {
  return Math.round(evs.reduce((s, e) => s + e.amount * 100, 0)) / 100;
}
function liveSummary() {
  const end = nowS() - 1;
  const pts = [];
  const all = [];
  for (let t = end - WINDOW + 1; t <= end; t++) {
    const evs = perSecond.get(t) ?? [];
    pts.push({ t, events: evs.length, revenue: sumOf(evs) });
    all.unshift(...evs);
  }
  const grp = (k) => {
    const m = new Map();
    for (const e of all) {
      const g = m.get(e[k]) ?? { key: e[k], events: 0, revenue_c: 0 };
      g.events++;
      g.revenue_c += Math.round(e.amount * 100);
      m.set(e[k], g);
    }
    return [...m.values()].sort((a, b) => b.revenue_c - a.revenue_c).map((g) => ({ key: g.key, events: g.events, revenue: g.revenue_c / 100 }));
  };
  return {
    window_s: WINDOW,
    events: all.length,
    revenue: sumOf(all),
    per_second: pts,
    by_status: grp('status'),
    by_productline: grp('product_line'),
    latest: all.slice(0, 100),
    malformed: 0,
    latency_ms: { p50: 3.1, p99: 9.8 },
    today_revenue: todayRevenueC / 100,
    today_events: todayEvents,
  };
}

const clients = new Set();
function tick() {
  const t = nowS() - 1; // the second that just ended
  const evs = perSecond.get(t) ?? [];
  if (!perSecond.has(t)) {
    const n = Math.floor(random() * RATE * 2 + 0.5);
    for (let i = 0; i < n; i++) evs.unshift(makeEvent(t * 1000 + Math.floor(random() * 1000)));
  }
  while (injected.length) evs.unshift(injected.shift());
  perSecond.set(t, evs);
  for (const e of evs) (todayEvents++, (todayRevenueC += Math.round(e.amount * 100)));
  for (const k of perSecond.keys()) if (k < t - WINDOW - 60) perSecond.delete(k);
  const data = { t, events: evs.length, revenue: sumOf(evs), new: evs, today_revenue: todayRevenueC / 100, today_events: todayEvents, malformed: 0, latency_ms: { p50: 3.1, p99: 9.8 } };
  for (const res of clients) res.write(`id: ${t}\nevent: tick\ndata: ${JSON.stringify(data)}\n\n`);
}
setTimeout(function loop() {
  tick();
  setTimeout(loop, 1000 - (Date.now() % 1000) + 5);
}, 1000 - (Date.now() % 1000) + 5);
setInterval(() => {
  for (const res of clients) res.write(': keep-alive\n\n');
}, 15000);

function stream(req, res) {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  const last = Number(req.headers['last-event-id']);
  if (last && last >= nowS() - WINDOW) {
    for (let t = last + 1; t < nowS(); t++) {
      const evs = perSecond.get(t) ?? [];
      res.write(`id: ${t}\nevent: tick\ndata: ${JSON.stringify({ t, events: evs.length, revenue: sumOf(evs), new: evs, today_revenue: todayRevenueC / 100, today_events: todayEvents, malformed: 0, latency_ms: { p50: 3.1, p99: 9.8 } })}\n\n`);
    }
  } else {
    res.write(`event: snapshot\ndata: ${JSON.stringify(liveSummary())}\n\n`);
  }
  clients.add(res);
  req.on('close', () => clients.delete(res));
}

// ---------------------------------------------------------------- logs, lake, health
const LEVELS = ['INFO', 'INFO', 'INFO', 'INFO', 'DEBUG', 'DEBUG', 'WARNING', 'ERROR'];
const MESSAGES = {
  INFO: ['order {n} accepted for {c}', 'payment authorised for order {n}', 'shipment created for order {n}', 'cart checked out by {c}'],
  DEBUG: ['cache hit for customer {c}', 'pos terminal 7 heartbeat', 'price list reloaded in 12 ms'],
  WARNING: ['payment gateway slow: 1840 ms for order {n}', 'stock low for product S18_1749', 'retrying shipment label for order {n}'],
  ERROR: ['payment declined for order {n}: insufficient funds', 'timeout talking to warehouse service after 5000 ms', 'order {n} failed validation: missing postal code'],
};
function logLine(ts) {
  const level = pick(LEVELS);
  const message = pick(MESSAGES[level]).replace('{n}', String(10100 + Math.floor(random() * 400))).replace('{c}', CUSTOMERS.length ? pick(CUSTOMERS).split('|')[0] : 'Mini Gifts');
  const day = new Date(ts).toISOString().slice(0, 10);
  return { ts: new Date(ts).toISOString(), level, message, file: `/user/flume/logs/${day}/FlumeData.1a2b.0-4096.log` };
}
const LOGS = [];
for (let i = 0; i < 3000; i++) LOGS.push(logLine(Date.now() - (3000 - i) * 7000));
setInterval(() => LOGS.push(logLine(Date.now())), 1500);

function searchLogs(q) {
  const allowed = ['q', 'level', 'from', 'to', 'limit', 'regex'];
  for (const k of q.keys()) if (!allowed.includes(k)) throw bad(`unknown parameter '${k}'`);
  const limit = Number(q.get('limit') ?? 100);
  if (!(limit >= 1 && limit <= 1000)) throw bad(`parameter 'limit': ${q.get('limit')} is not in 1..1000`);
  const text = q.get('q') ?? '';
  let match = (m) => m.toLowerCase().includes(text.toLowerCase());
  if (q.get('regex') === '1' && text) {
    let re;
    try {
      re = new RegExp(text, 'i');
    } catch (e) {
      throw bad(`parameter 'q': invalid regular expression: ${e.message}`);
    }
    match = (m) => re.test(m);
  }
  const levels = q.get('level') ? q.get('level').split(',') : null;
  const time = (k) => {
    const v = q.get(k);
    if (!v) return null;
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw bad(`parameter '${k}': '${v}' is not an ISO 8601 time or date`);
    return k === 'to' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? t + 86400e3 - 1 : t;
  };
  const from = time('from');
  const to = time('to');
  const out = [];
  for (let i = LOGS.length - 1; i >= 0 && out.length <= limit; i--) {
    const l = LOGS[i];
    const t = Date.parse(l.ts);
    if ((from && t < from) || (to && t > to)) continue;
    if (levels && !levels.includes(l.level)) continue;
    if (text && !match(l.message)) continue;
    out.push(l);
  }
  return { lines: out.slice(0, limit), files_scanned: 3, files_skipped: 12, truncated: out.length > limit };
}

const mtime = new Date(Date.now() - 3600e3).toISOString().replace(/\.\d+Z$/, 'Z');
const csvText = fs.existsSync(CSV) ? decode(fs.readFileSync(CSV)).split('\n').slice(1, 200) : ['10100,...'];
const today = new Date().toISOString().slice(0, 10);
const LAKE = {
  '/': ['user'],
  '/user': ['sqoop', 'flume', 'kafka'],
  '/user/sqoop': ['sales'],
  '/user/sqoop/sales': { _SUCCESS: [], 'part-m-00000': csvText, '.metadata': null },
  '/user/sqoop/sales/.metadata': { 'schema.avsc': ['{"type": "record", "name": "sales", "fields": []}'] },
  '/user/flume': ['logs'],
  '/user/flume/logs': [today],
  [`/user/flume/logs/${today}`]: { 'FlumeData.1a2b.0-4096.log': LOGS.slice(-80).map((l) => `${l.ts} ${l.level} ${l.message}`) },
  '/user/kafka': ['transactions'],
  '/user/kafka/transactions': { 'part-00000.jsonl.zst': [JSON.stringify(makeEvent(Date.now()))] },
};
function lakeNorm(p) {
  if (!p) p = '/';
  if (p.split('/').includes('..')) throw new HttpError(403, 'forbidden', `path '${p}' escapes the lake root`);
  return ('/' + p.split('/').filter(Boolean).join('/')) || '/';
}
function lakeLs(q) {
  const p = lakeNorm(q.get('path'));
  const node = LAKE[p];
  if (!node) throw new HttpError(404, 'not_found', `no such directory in the lake: ${p}`);
  const entries = Array.isArray(node)
    ? node.map((name) => ({ name, type: 'dir', size: 0, mtime }))
    : Object.entries(node).map(([name, v]) =>
        v === null ? { name, type: 'dir', size: 0, mtime } : { name, type: 'file', size: v.join('\n').length + (v.length ? 1 : 0), mtime },
      );
  return { path: p, entries };
}
function lakeHead(q) {
  const p = lakeNorm(q.get('path'));
  const lines = Number(q.get('lines') ?? 20);
  if (!(lines >= 1 && lines <= 1000)) throw bad(`parameter 'lines': ${q.get('lines')} is not in 1..1000`);
  const dir = p.replace(/\/[^/]+$/, '') || '/';
  const node = LAKE[dir];
  const name = p.slice(dir.length).replace(/^\//, '');
  const content = node && !Array.isArray(node) ? node[name] : undefined;
  if (!content) throw new HttpError(404, 'not_found', `no such file in the lake: ${p}`);
  return { path: p, lines: content.slice(0, lines), truncated: content.length > lines };
}
function health() {
  const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const comps = [
    { name: 'lake', status: 'ok', detail: 'file:///var/lib/comptoir/lake, 41.2 GB free', checked_at: at },
    { name: 'bus', status: 'ok', detail: `log:///var/lib/comptoir/bus, topic transactions, lag ${Math.floor(random() * 3)}`, checked_at: at },
    { name: 'dataset /user/sqoop/sales', status: 'ok', detail: `${SALES.length} rows, version 3, loaded 2 s ago`, checked_at: at },
    { name: 'agent', status: 'degraded', detail: 'spooling: HDFS unreachable for 12 s (mock)', checked_at: at },
  ];
  return { status: 'degraded', checked_at: at, components: comps };
}

// ---------------------------------------------------------------- HTTP
const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon' };
function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
}
const authed = (req) => !TOKEN || (req.headers.cookie ?? '').split(/;\s*/).includes('comptoir_session=mock');

const routes = {
  '/api/v1/sales/summary': summary,
  '/api/v1/sales/options': () => ({ ...OPTIONS, min_date: DATES[0], max_date: DATES[DATES.length - 1] }),
  '/api/v1/sales/timeseries': timeseries,
  '/api/v1/sales/rows': rows,
  '/api/v1/live/summary': () => liveSummary(),
  '/api/v1/logs/search': searchLogs,
  '/api/v1/lake/ls': lakeLs,
  '/api/v1/lake/head': lakeHead,
  '/api/v1/health': health,
};

const server = http.createServer((req, res) => {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  const u = new URL(req.url, 'http://mock');
  try {
    if (u.pathname === '/dev/produce' && req.method === 'POST') {
      injected.push(makeEvent(Date.now()));
      return send(res, 200, { produced: 1 });
    }
    if (u.pathname === '/api/v1/login' && req.method === 'POST') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        let token = '';
        try {
          token = JSON.parse(body).token ?? '';
        } catch {}
        if (TOKEN && token !== TOKEN) return send(res, 401, { status: 401, error: 'unauthorized', message: 'wrong token' });
        res.setHeader('Set-Cookie', 'comptoir_session=mock; Path=/; HttpOnly; SameSite=Strict');
        send(res, 200, { ok: true });
      });
      return;
    }
    if (u.pathname.startsWith('/api/') || u.pathname === '/metrics') {
      if (!authed(req)) throw new HttpError(401, 'unauthorized', 'a token is required: sign in');
      if (u.pathname === '/metrics') return send(res, 200, `comptoir_sse_clients ${clients.size}\n`, 'text/plain; version=0.0.4');
      if (u.pathname === '/api/v1/live/stream') return stream(req, res);
      if (u.pathname === '/api/v1/sales/export.csv') {
        const q = u.searchParams;
        const all = filterRows(q);
        const cols = Object.keys(publicRow(SALES[0] ?? {}));
        const lines = [cols.join(','), ...all.map((r) => cols.map((c) => { const v = String(publicRow(r)[c]); return /[",]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v; }).join(','))];
        return send(res, 200, lines.join('\r\n') + '\r\n', 'text/csv; charset=utf-8');
      }
      const fn = routes[u.pathname];
      if (!fn) throw new HttpError(404, 'not_found', `no such endpoint: ${u.pathname}`);
      return send(res, 200, fn(u.searchParams));
    }
    // Static files from ui/dist (index.html at /).
    const dist = path.join(uiDir, 'dist');
    const rel = u.pathname === '/' ? 'index.html' : u.pathname.slice(1);
    const file = path.join(dist, path.normalize(rel));
    if (!file.startsWith(dist) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      if (!fs.existsSync(path.join(dist, 'index.html'))) return send(res, 404, 'ui/dist is missing: run scripts/ui-build (or use npm run dev)\n', 'text/plain');
      throw new HttpError(404, 'not_found', `no such file: ${u.pathname}`);
    }
    send(res, 200, fs.readFileSync(file), MIME[path.extname(file)] ?? 'application/octet-stream');
  } catch (e) {
    if (e instanceof HttpError) return send(res, e.status, { status: e.status, error: e.error, message: e.message });
    console.error(e);
    send(res, 500, { status: 500, error: 'internal', message: String(e.message ?? e) });
  }
});
server.listen(PORT, HOST, () => console.log(`mock comptoir (DEV ONLY) on http://${HOST}:${PORT}  ${SALES.length} sales rows${TOKEN ? ', login required' : ''}`));
