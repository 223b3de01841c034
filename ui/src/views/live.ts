// Live: the transactions stream over Server-Sent Events (no polling).
// `snapshot` fills everything; each `tick` adds one per-second point, its new events and
// today's totals. Pause closes the stream; Resume opens a new one, whose snapshot refills
// the 15-minute window, so nothing inside the window is missed while paused.
import { h, fill } from '../dom';
import { api } from '../api';
import type { Params } from '../router';
import { Chart, summarize, type Option } from '../charts';
import { ago, money, moneyShort, int, dec, clock, localTime, escapeHtml } from '../format';
import { showError, clearError } from '../notify';
import { panel, kpi, statusBadge, type Kpi } from '../widgets';
import { setState, type View } from '../view';
import type { LiveDays, LiveEvent, LiveGroup, LiveSnapshot, LiveTick, PerSecond } from '../types';

const STREAM = '/api/v1/live/stream';
const MAX_LATEST = 100;
const RETRY_MS = 3000;

type Conn = 'connecting' | 'connected' | 'reconnecting' | 'paused' | 'closed';
const CONN_TEXT: Record<Conn, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  paused: 'Paused',
  closed: 'Disconnected',
};

export class LiveView implements View {
  readonly root = h('div', { class: 'view', 'data-testid': 'view-live', 'data-state': 'loading' });

  private source: EventSource | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private conn: Conn = 'connecting';
  private paused = false;
  private active = false;
  private frame = 0;

  // State of the window, rebuilt by each snapshot.
  private windowS = 900;
  private series: PerSecond[] = [];
  private lastT = 0;
  private byStatus = new Map<string, LiveGroup>();
  private byLine = new Map<string, LiveGroup>();
  private latest: LiveEvent[] = [];
  private today = { revenue: 0, events: 0 };
  private malformed = 0;
  private latency = { p50: 0, p99: 0 };
  private hasData = false;

  private readonly statusSlot = h('span', { class: 'live-status-slot' });
  private readonly pauseButton = h(
    'button',
    { type: 'button', class: 'primary-button', 'data-testid': 'live-pause', 'aria-pressed': 'false' },
    'Pause',
  );
  private readonly k: Record<string, Kpi> = {
    todayEvents: kpi('live-events-total', 'Events today (UTC)'),
    todayRevenue: kpi('live-today-revenue', 'Revenue today (UTC)'),
    windowEvents: kpi('live-events-window', 'Events, last 15 min'),
    windowRevenue: kpi('live-revenue-window', 'Revenue, last 15 min'),
    rate: kpi('live-rate', 'Events/s, last minute'),
    latency: kpi('live-latency', 'Latency p50 / p99'),
  };
  private readonly pEvents = panel('live-events', 'Events per second, last 15 min', { wide: true });
  private readonly pRevenue = panel('live-revenue', 'Revenue per second, last 15 min', { wide: true });
  private readonly pStatus = panel('live-status', 'By status (window at connect + new events)');
  private readonly pLine = panel('live-productline', 'By product line (window at connect + new events)');
  private readonly pLatest = panel('live-latest', 'Latest transactions (newest first, max 100)', { wide: true });
  private readonly pDays = panel('live-days', 'Days before today (daily view of the archive)', { wide: true });
  private readonly cDays = new Chart(h('div', { 'data-testid': 'chart-live-days' }), 'Revenue per day before today');
  private readonly daysNote = h('p', { class: 'dataset-note', 'data-testid': 'live-days-note' });
  private daysTimer: ReturnType<typeof setInterval> | undefined;
  private readonly cEvents = new Chart(h('div', { 'data-testid': 'chart-live-events' }), 'Events per second over the last 15 minutes');
  private readonly cRevenue = new Chart(h('div', { 'data-testid': 'chart-live-revenue' }), 'Revenue per second over the last 15 minutes');
  private readonly cStatus = new Chart(h('div', { 'data-testid': 'chart-live-status' }), 'Live revenue by status');
  private readonly cLine = new Chart(h('div', { 'data-testid': 'chart-live-productline' }), 'Live revenue by product line');
  private readonly table = h('table', { class: 'data-table', 'data-testid': 'live-latest' });
  private readonly malformedNote = h('p', { class: 'dataset-note', 'data-testid': 'live-malformed' });

  constructor() {
    this.pauseButton.addEventListener('click', () => (this.paused ? this.resume() : this.pause()));
    this.pEvents.body.append(this.cEvents.el);
    this.pRevenue.body.append(this.cRevenue.el);
    this.pStatus.body.append(this.cStatus.el);
    this.pLine.body.append(this.cLine.el);
    this.pLatest.body.append(h('div', { class: 'table-scroll table-scroll-tall' }, this.table));
    this.pDays.body.append(this.cDays.el, this.daysNote);
    this.root.append(
      h(
        'div',
        { class: 'live-bar' },
        this.statusSlot,
        this.pauseButton,
        h('span', { class: 'muted' }, 'Server-Sent Events from ', h('code', null, STREAM)),
      ),
      h('div', { class: 'kpis' }, Object.values(this.k).map((x) => x.root)),
      this.malformedNote,
      h(
        'div',
        { class: 'grid grid-2' },
        this.pEvents.root,
        this.pRevenue.root,
        this.pStatus.root,
        this.pLine.root,
        this.pLatest.root,
        this.pDays.root,
      ),
    );
    this.setConn('connecting');
  }

  enter(_params: Params): void {
    this.active = true;
    void this.loadDays();
    clearInterval(this.daysTimer);
    this.daysTimer = setInterval(() => void this.loadDays(), 60_000);
    if (!this.paused) this.connect();
    else this.setConn('paused');
    this.render();
  }

  update(_params: Params): void {}

  leave(): void {
    this.active = false;
    clearInterval(this.daysTimer);
    this.disconnect();
  }

  /** The days before today: revenue per day from the daily view (views build --view transactions). */
  private async loadDays(): Promise<void> {
    let d: LiveDays;
    try {
      d = await api<LiveDays>('/api/v1/live/days', { days: '30' });
    } catch {
      return;  // the live stream's own errors are shown already
    }
    const days = d.days ?? [];
    this.daysNote.textContent = d.view
      ? `From the daily view built ${ago(d.view.built_at)} by ${d.view.engine} (${d.view.dir})`
      : d.note ?? '';
    this.cDays.set(
      {
        color: ['#4f6bed'],
        grid: { left: 8, right: 16, top: 12, bottom: 8, containLabel: true },
        tooltip: { trigger: 'axis', valueFormatter: (v: number) => money(v) },
        xAxis: { type: 'category', data: days.map((x) => x.day), axisLabel: { hideOverlap: true } },
        yAxis: { type: 'value', axisLabel: { formatter: (v: number) => moneyShort(v) } },
        series: [{ type: 'bar', name: 'Revenue', data: days.map((x) => x.revenue), barMaxWidth: 24, animation: false }],
      },
      { empty: days.length === 0, summary: summarize(days, (x) => `${x.day} ${moneyShort(x.revenue)}`) },
    );
    this.pDays.setCsv({ header: ['day', 'events', 'revenue'], rows: days.map((x) => [x.day, x.events, x.revenue.toFixed(2)]) });
  }

  private pause(): void {
    this.paused = true;
    this.disconnect();
    this.setConn('paused');
    this.pauseButton.textContent = 'Resume';
    this.pauseButton.setAttribute('aria-pressed', 'true');
  }

  private resume(): void {
    this.paused = false;
    this.pauseButton.textContent = 'Pause';
    this.pauseButton.setAttribute('aria-pressed', 'false');
    this.connect();
  }

  private disconnect(): void {
    clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = null;
  }

  private connect(): void {
    this.disconnect();
    this.setConn(this.hasData ? 'reconnecting' : 'connecting');
    const es = new EventSource(STREAM);
    this.source = es;
    es.addEventListener('open', () => {
      if (this.source === es) this.setConn('connected');
    });
    es.addEventListener('snapshot', (ev) => {
      if (this.source !== es) return;
      this.onSnapshot(JSON.parse((ev as MessageEvent).data) as LiveSnapshot);
    });
    es.addEventListener('tick', (ev) => {
      if (this.source !== es) return;
      this.onTick(JSON.parse((ev as MessageEvent).data) as LiveTick);
    });
    es.addEventListener('error', () => {
      if (this.source !== es) return;
      if (es.readyState === EventSource.CONNECTING) {
        // The browser reconnects by itself, sending Last-Event-ID: the server replays missed ticks.
        this.setConn('reconnecting');
        return;
      }
      // CLOSED: the server answered with an error status (e.g. 401) or a wrong type.
      // EventSource does not say which, so ask the summary endpoint for the error, which
      // also brings up the login dialog on 401; then try again.
      this.source = null;
      es.close();
      this.setConn('reconnecting');
      api<LiveSnapshot>('/api/v1/live/summary', { window: '15m' })
        .then(() => clearError('live'))
        .catch((e) => showError('live', e))
        .finally(() => {
          if (this.active && !this.paused) this.retryTimer = setTimeout(() => this.connect(), RETRY_MS);
        });
    });
  }

  private setConn(c: Conn): void {
    this.conn = c;
    fill(this.statusSlot, statusBadge('live-status', c, CONN_TEXT[c]));
    this.statusSlot.setAttribute('aria-live', 'polite');
  }

  private onSnapshot(s: LiveSnapshot): void {
    clearError('live');
    this.setConn('connected');
    this.windowS = s.window_s || 900;
    this.series = [...(s.per_second ?? [])].sort((a, b) => a.t - b.t);
    this.lastT = this.series.length ? this.series[this.series.length - 1].t : Math.floor(Date.now() / 1000);
    this.byStatus = new Map((s.by_status ?? []).map((g) => [g.key, { ...g }]));
    this.byLine = new Map((s.by_productline ?? []).map((g) => [g.key, { ...g }]));
    this.latest = (s.latest ?? []).slice(0, MAX_LATEST);
    this.today = { revenue: s.today_revenue, events: s.today_events };
    this.malformed = s.malformed ?? 0;
    this.latency = s.latency_ms ?? this.latency;
    this.hasData = true;
    setState(this.root, 'ready');
    this.schedule();
  }

  private onTick(t: LiveTick): void {
    if (this.conn !== 'connected') this.setConn('connected');
    if (!this.hasData) {
      // Ticks without a snapshot (a resumed stream): start from them.
      this.hasData = true;
      setState(this.root, 'ready');
    }
    if (t.t <= this.lastT) {
      // A replayed tick we already have: only refresh the totals.
      this.applyTotals(t);
      this.schedule();
      return;
    }
    // Fill skipped seconds with zeros so the time axis stays honest.
    for (let s = this.lastT + 1; this.lastT && s < t.t && t.t - s < this.windowS; s++) this.series.push({ t: s, events: 0, revenue: 0 });
    this.series.push({ t: t.t, events: t.events, revenue: t.revenue });
    this.lastT = t.t;
    const cutoff = t.t - this.windowS;
    let drop = 0;
    while (drop < this.series.length && this.series[drop].t <= cutoff) drop++;
    if (drop) this.series.splice(0, drop);
    const fresh = t.new ?? [];
    if (t.by_status && t.by_productline) {
      for (const g of t.by_status) add(this.byStatus, g);
      for (const g of t.by_productline) add(this.byLine, g);
    } else {
      for (const e of fresh) {
        bump(this.byStatus, e.status, e.amount);
        bump(this.byLine, e.product_line, e.amount);
      }
    }
    if (fresh.length) this.latest = [...fresh, ...this.latest].slice(0, MAX_LATEST);
    this.applyTotals(t);
    this.schedule();
  }

  private applyTotals(t: LiveTick): void {
    if (typeof t.today_events === 'number') this.today.events = t.today_events;
    if (typeof t.today_revenue === 'number') this.today.revenue = t.today_revenue;
    if (typeof t.malformed === 'number') this.malformed = t.malformed;
    if (t.latency_ms) this.latency = t.latency_ms;
  }

  /** Renders at most once per animation frame, however fast ticks arrive. */
  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    if (!this.hasData) return;
    let events = 0;
    let revenue = 0;
    let lastMinute = 0;
    for (const p of this.series) {
      events += p.events;
      revenue += p.revenue;
      if (p.t > this.lastT - 60) lastMinute += p.events;
    }
    const secs = Math.min(60, this.series.length) || 1;
    this.k.todayEvents.set(this.today.events, int(this.today.events));
    this.k.todayRevenue.set(this.today.revenue, money(this.today.revenue));
    this.k.windowEvents.set(events, int(events));
    this.k.windowRevenue.set(Math.round(revenue * 100) / 100, money(revenue));
    this.k.rate.set(lastMinute / secs, dec(lastMinute / secs, 1));
    this.k.latency.set(this.latency.p99, `${dec(this.latency.p50, 1)} / ${dec(this.latency.p99, 1)} ms`);
    this.malformedNote.textContent = `${int(this.malformed)} malformed event${this.malformed === 1 ? '' : 's'} skipped`;

    const min = (this.lastT - this.windowS) * 1000;
    const max = this.lastT * 1000;
    this.line(this.cEvents, 'Events/s', this.series.map((p) => [p.t * 1000, p.events]), min, max, (v) => int(v), `${int(events)} events in the window`);
    this.line(this.cRevenue, 'Revenue/s', this.series.map((p) => [p.t * 1000, p.revenue]), min, max, moneyShort, `${money(revenue)} in the window`);
    this.pEvents.setCsv({ header: ['t', 'events'], rows: this.series.map((p) => [p.t, p.events]) });
    this.pRevenue.setCsv({ header: ['t', 'revenue'], rows: this.series.map((p) => [p.t, p.revenue.toFixed(2)]) });
    this.bars(this.cStatus, this.byStatus, this.pStatus);
    this.bars(this.cLine, this.byLine, this.pLine);
    this.renderLatest();
  }

  /** Raw per-second values as thin bars, and their 10-second moving average as a line. */
  private line(chart: Chart, name: string, data: number[][], min: number, max: number, fmt: (v: number) => string, summary: string): void {
    const avg: number[][] = [];
    let sum = 0;
    for (let i = 0; i < data.length; i++) {
      sum += data[i][1];
      if (i >= 10) sum -= data[i - 10][1];
      avg.push([data[i][0], Math.round((sum / Math.min(i + 1, 10)) * 100) / 100]);
    }
    const option: Option = {
      color: ['#4f6bed'],
      grid: { left: 8, right: 16, top: 12, bottom: 8, containLabel: true },
      tooltip: { trigger: 'axis', valueFormatter: (v: number) => fmt(v) },
      xAxis: { type: 'time', min, max, axisLabel: { hideOverlap: true } },
      yAxis: { type: 'value', minInterval: 1, axisLabel: { formatter: fmt } },
      series: [
        { type: 'bar', name, data, barWidth: '100%', itemStyle: { opacity: 0.35 }, animation: false, large: true },
        { type: 'line', name: `${name}, 10 s average`, data: avg, showSymbol: false, lineStyle: { width: 2 }, animation: false },
      ],
    };
    chart.set(option, { summary, empty: data.length === 0 });
  }

  private bars(chart: Chart, groups: Map<string, LiveGroup>, p: ReturnType<typeof panel>): void {
    const g = [...groups.values()].sort((a, b) => b.revenue - a.revenue || a.key.localeCompare(b.key));
    const r = [...g].reverse();
    chart.set(
      {
        grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
        tooltip: {
          trigger: 'axis',
          axisPointer: { type: 'shadow' },
          formatter: (items: any) => {
            const x = r[(Array.isArray(items) ? items[0] : items).dataIndex];
            return x ? `${escapeHtml(x.key)}<br>${money(x.revenue)} · ${int(x.events)} events` : '';
          },
        },
        xAxis: { type: 'value', splitNumber: 4, axisLabel: { formatter: (v: number) => moneyShort(v), hideOverlap: true } },
        yAxis: { type: 'category', data: r.map((x) => x.key), axisLabel: { width: 120, overflow: 'truncate' } },
        series: [{ type: 'bar', data: r.map((x) => Math.round(x.revenue * 100) / 100), barMaxWidth: 24, animation: false }],
      },
      { empty: g.length === 0, summary: summarize(g, (x) => `${x.key} ${moneyShort(x.revenue)}`) },
    );
    p.setCsv({ header: ['key', 'events', 'revenue'], rows: g.map((x) => [x.key, x.events, x.revenue.toFixed(2)]) });
  }

  private renderLatest(): void {
    const cols = ['Time', 'Order', 'Customer', 'Country', 'Product line', 'Qty', 'Amount', 'Status', 'Deal'];
    fill(
      this.table,
      h('caption', { class: 'visually-hidden' }, 'Latest transactions, newest first'),
      h('thead', null, h('tr', null, cols.map((c, i) => h('th', { scope: 'col', class: i === 5 || i === 6 ? 'num' : '' }, c)))),
      h(
        'tbody',
        null,
        this.latest.length
          ? this.latest.map((e) =>
              h(
                'tr',
                { 'data-event-id': e.event_id },
                h('td', { title: localTime(e.ts) }, clock(e.ts)),
                h('td', null, String(e.order_number)),
                h('td', null, e.customer),
                h('td', null, e.country),
                h('td', null, e.product_line),
                h('td', { class: 'num' }, int(e.quantity)),
                h('td', { class: 'num' }, money(e.amount)),
                h('td', null, e.status),
                h('td', null, e.deal_size),
              ),
            )
          : h('tr', null, h('td', { colspan: cols.length, class: 'empty' }, 'No events in the window yet.')),
      ),
    );
    this.pLatest.setCsv({
      header: ['event_id', 'ts', 'order_number', 'customer', 'country', 'product_line', 'quantity', 'amount', 'status', 'deal_size'],
      rows: this.latest.map((e) => [e.event_id, e.ts, e.order_number, e.customer, e.country, e.product_line, e.quantity, e.amount.toFixed(2), e.status, e.deal_size]),
    });
  }
}

function add(m: Map<string, LiveGroup>, delta: LiveGroup): void {
  const g = m.get(delta.key) ?? { key: delta.key, events: 0, revenue: 0 };
  g.events += delta.events;
  g.revenue = Math.round((g.revenue + delta.revenue) * 100) / 100;
  m.set(delta.key, g);
}

function bump(m: Map<string, LiveGroup>, key: string, amount: number): void {
  const g = m.get(key) ?? { key, events: 0, revenue: 0 };
  g.events += 1;
  g.revenue = Math.round((g.revenue + amount) * 100) / 100;
  m.set(key, g);
}
