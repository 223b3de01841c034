// Overview: the imported sales history. Every filter lives in the URL hash
// (#/overview?from=2004-01-01&productline=Classic%20Cars,Motorcycles), so a view can be
// shared and a reload restores it; the API does all aggregation.
import { h, fill, debounce } from '../dom';
import { api, url, queryString } from '../api';
import { navigate, list, type Params } from '../router';
import { Chart, summarize, type Option } from '../charts';
import { ago, money, moneyShort, int, escapeHtml as esc } from '../format';
import { showError, clearError, isAbort } from '../notify';
import { panel, kpi, multiSelect, type Kpi, type MultiSelect, type Panel } from '../widgets';
import { setState, type View } from '../view';
import type { Group, SalesOptions, SalesRows, SalesSummary, Timeseries } from '../types';

const LISTS = ['productline', 'country', 'status', 'dealsize', 'territory'] as const;
type ListKey = (typeof LISTS)[number];
const FILTERS = ['from', 'to', ...LISTS, 'customer'] as const;
const LIST_LABELS: Record<ListKey, string> = {
  productline: 'Product line',
  country: 'Country',
  status: 'Status',
  dealsize: 'Deal size',
  territory: 'Territory',
};
const BUCKETS = ['day', 'week', 'month', 'quarter', 'year'] as const;
const PAGE = 25;
const DEFAULT_SORT = '-orderdate';

interface Column {
  key: string;
  label: string;
  num?: boolean;
  sortable?: boolean;
  cell: (r: SalesRows['rows'][number]) => string;
}

const COLUMNS: Column[] = [
  { key: 'ordernumber', label: 'Order', num: true, sortable: true, cell: (r) => `${r.ordernumber}-${r.orderlinenumber}` },
  { key: 'orderdate', label: 'Date', sortable: true, cell: (r) => r.orderdate },
  { key: 'customer', label: 'Customer', sortable: true, cell: (r) => r.customer },
  { key: 'productline', label: 'Product line', sortable: true, cell: (r) => r.productline },
  { key: 'productcode', label: 'Product', sortable: true, cell: (r) => r.productcode },
  { key: 'quantity', label: 'Qty', num: true, sortable: true, cell: (r) => int(r.quantity) },
  { key: 'priceeach', label: 'Price', num: true, sortable: true, cell: (r) => money(r.priceeach) },
  { key: 'sales', label: 'Sales', num: true, sortable: true, cell: (r) => money(r.sales) },
  { key: 'status', label: 'Status', sortable: true, cell: (r) => r.status },
  { key: 'dealsize', label: 'Deal', sortable: true, cell: (r) => r.dealsize },
  { key: 'country', label: 'Country', sortable: true, cell: (r) => r.country },
  { key: 'territory', label: 'Territory', sortable: true, cell: (r) => r.territory },
];

function filtersOf(p: Params): Params {
  const f: Params = {};
  for (const k of FILTERS) if (p[k]) f[k] = p[k];
  return f;
}

const groupCsv = (groups: Group[]) => ({
  header: ['key', 'sales', 'rows', 'orders'],
  rows: groups.map((g) => [g.key, g.sales.toFixed(2), g.rows, g.orders]),
});

export class OverviewView implements View {
  readonly root = h('div', { class: 'view', 'data-testid': 'view-overview', 'data-state': 'loading' });
  private params: Params = {};
  // What is on screen (null: nothing yet, so the next update() loads).
  private loaded: { filters: string | null; bucket: string | null; rows: string | null } = { filters: null, bucket: null, rows: null };
  private options: SalesOptions | null = null;
  private optionsPromise: Promise<void> | null = null;
  private readonly aborts = new Map<string, AbortController>();
  private generation = 0;

  private readonly from = h('input', { type: 'date', id: 'filter-from', 'data-testid': 'filter-from' });
  private readonly to = h('input', { type: 'date', id: 'filter-to', 'data-testid': 'filter-to' });
  private readonly customer = h('input', {
    type: 'search',
    id: 'filter-customer',
    'data-testid': 'filter-customer',
    placeholder: 'name contains…',
    autocomplete: 'off',
  });
  private readonly selects = {} as Record<ListKey, MultiSelect>;
  private readonly datasetNote = h('p', { class: 'dataset-note', 'data-testid': 'overview-dataset' });

  private readonly kpis: Record<string, Kpi> = {
    total: kpi('kpi-total-sales', 'Total sales'),
    orders: kpi('kpi-orders', 'Orders'),
    avg: kpi('kpi-avg-order', 'Average deal (per order)'),
    customers: kpi('kpi-customers', 'Unique customers'),
    rows: kpi('kpi-rows', 'Order lines'),
    quantity: kpi('kpi-quantity', 'Quantity'),
  };

  private readonly pTime = panel('timeseries', 'Revenue over time', { wide: true, csvName: 'revenue-by-time' });
  private readonly pLine = panel('productline', 'Revenue by product line', { csvName: 'revenue-by-productline' });
  private readonly pDeal = panel('dealsize', 'Deal size', { csvName: 'revenue-by-dealsize' });
  private readonly pStatus = panel('status', 'Order status', { csvName: 'revenue-by-status' });
  private readonly pCust = panel('customers', 'Top 10 customers', { csvName: 'top-customers' });
  private readonly pCountry = panel('country', 'Revenue by country', { tall: true, csvName: 'revenue-by-country' });
  private readonly pTerritory = panel('territory', 'Revenue by territory', { csvName: 'revenue-by-territory' });
  private readonly pOrders = panel('orders', 'Orders', { wide: true, csvName: 'orders-page' });

  private readonly bucket = h(
    'select',
    { 'data-testid': 'timeseries-bucket', 'aria-label': 'Time bucket' },
    BUCKETS.map((b) => h('option', { value: b }, b[0].toUpperCase() + b.slice(1))),
  );
  private readonly cTime = new Chart(h('div', { 'data-testid': 'chart-timeseries' }), 'Revenue over time');
  private readonly cLine = new Chart(h('div', { 'data-testid': 'chart-productline' }), 'Revenue by product line');
  private readonly cDeal = new Chart(h('div', { 'data-testid': 'chart-dealsize' }), 'Revenue by deal size');
  private readonly cStatus = new Chart(h('div', { 'data-testid': 'chart-status' }), 'Revenue by order status');
  private readonly cCust = new Chart(h('div', { 'data-testid': 'chart-customers' }), 'Top 10 customers by revenue');
  private readonly cCountry = new Chart(h('div', { 'data-testid': 'chart-country', class: 'chart-tall' }), 'Revenue by country');
  private readonly cTerritory = new Chart(h('div', { 'data-testid': 'chart-territory' }), 'Revenue by territory');

  private readonly search = h('input', {
    type: 'search',
    'data-testid': 'orders-search',
    'aria-label': 'Search orders by customer',
    placeholder: 'customer contains…',
    autocomplete: 'off',
  });
  private readonly exportLink = h(
    'a',
    { class: 'small-button', 'data-testid': 'orders-export', href: '/api/v1/sales/export.csv', download: 'sales.csv' },
    'Export all rows (CSV)',
  );
  private readonly table = h('table', { class: 'data-table', 'data-testid': 'orders-table' });
  private readonly pageInfo = h('span', { class: 'page-info', 'data-testid': 'orders-page', 'aria-live': 'polite' });
  private readonly prev = h('button', { type: 'button', class: 'small-button', 'data-testid': 'orders-prev' }, '‹ Previous');
  private readonly next = h('button', { type: 'button', class: 'small-button', 'data-testid': 'orders-next' }, 'Next ›');
  private rowsTotal = 0;

  constructor() {
    for (const k of LISTS) {
      this.selects[k] = multiSelect({
        testid: `filter-${k}`,
        label: LIST_LABELS[k],
        onChange: (values) => this.go({ [k]: values.join(',') }),
      });
    }
    this.from.addEventListener('change', () => this.go({ from: this.from.value }));
    this.to.addEventListener('change', () => this.go({ to: this.to.value }));
    const typed = debounce(() => this.go({ customer: this.customer.value.trim() }, true), 350);
    this.customer.addEventListener('input', typed);
    const searched = debounce(() => this.go({ q: this.search.value.trim(), offset: '' }, true), 350);
    this.search.addEventListener('input', searched);
    this.bucket.addEventListener('change', () => this.go({ bucket: this.bucket.value === 'month' ? '' : this.bucket.value }));
    this.prev.addEventListener('click', () => this.page(-1));
    this.next.addEventListener('click', () => this.page(1));

    const reset = h(
      'button',
      {
        type: 'button',
        class: 'small-button',
        'data-testid': 'filter-reset',
        onclick: () => navigate('overview', {}),
      },
      'Reset filters',
    );
    const filters = h(
      'form',
      { class: 'filters', role: 'search', 'aria-label': 'Sales filters', 'data-testid': 'filters', onsubmit: (e: Event) => e.preventDefault() },
      h('div', { class: 'field' }, h('label', { for: 'filter-from' }, 'From'), this.from),
      h('div', { class: 'field' }, h('label', { for: 'filter-to' }, 'To'), this.to),
      LISTS.map((k) => this.selects[k].root),
      h('div', { class: 'field' }, h('label', { for: 'filter-customer' }, 'Customer'), this.customer),
      reset,
    );

    this.pTime.controls.append(this.bucket);
    this.pTime.body.append(this.cTime.el);
    this.pLine.body.append(this.cLine.el);
    this.pDeal.body.append(this.cDeal.el);
    this.pStatus.body.append(this.cStatus.el);
    this.pCust.body.append(this.cCust.el);
    this.pCountry.body.append(this.cCountry.el);
    this.pTerritory.body.append(this.cTerritory.el);
    this.pOrders.controls.append(this.search, this.exportLink);
    this.pOrders.body.append(
      h('div', { class: 'table-scroll' }, this.table),
      h('div', { class: 'pager' }, this.prev, this.pageInfo, this.next),
    );

    // Clicking a bar or slice toggles that value in the filter.
    const toggle = (k: ListKey) => (p: { name?: string }) => {
      if (!p.name) return;
      const cur = list(this.params, k);
      this.go({ [k]: (cur.includes(p.name) ? cur.filter((v) => v !== p.name) : [...cur, p.name]).join(',') });
    };
    this.cLine.on('click', toggle('productline'));
    this.cDeal.on('click', toggle('dealsize'));
    this.cStatus.on('click', toggle('status'));
    this.cCountry.on('click', toggle('country'));
    this.cTerritory.on('click', toggle('territory'));
    this.cCust.on('click', (p: { name?: string }) => p.name && this.go({ customer: p.name }));

    this.root.append(
      filters,
      this.datasetNote,
      h('div', { class: 'kpis', 'data-testid': 'kpis' }, Object.values(this.kpis).map((k) => k.root)),
      h('div', { class: 'grid' }, [this.pTime, this.pLine, this.pDeal, this.pStatus, this.pCust, this.pCountry, this.pTerritory, this.pOrders].map((p: Panel) => p.root)),
    );
  }

  enter(params: Params): void {
    this.loaded = { filters: null, bucket: null, rows: null };
    this.loadOptions();
    this.update(params);
  }

  leave(): void {
    for (const a of this.aborts.values()) a.abort();
    this.aborts.clear();
  }

  update(params: Params): void {
    this.params = params;
    this.syncInputs();
    const filters = queryString(filtersOf(params));
    const bucket = params.bucket || 'month';
    const rows = [filters, params.sort || DEFAULT_SORT, params.offset || '0', params.q || ''].join('|');
    const jobs: Promise<void>[] = [];
    if (filters !== this.loaded.filters) {
      this.loaded.filters = filters;
      jobs.push(this.loadSummary());
      this.exportLink.href = url('/api/v1/sales/export.csv', filtersOf(params));
    }
    if (filters + bucket !== this.loaded.bucket) {
      this.loaded.bucket = filters + bucket;
      jobs.push(this.loadTimeseries());
    }
    if (rows !== this.loaded.rows) {
      this.loaded.rows = rows;
      jobs.push(this.loadRows());
    }
    if (jobs.length === 0) return;
    const gen = ++this.generation;
    setState(this.root, 'loading');
    Promise.allSettled([...jobs, this.optionsPromise]).then((results) => {
      if (gen !== this.generation) return;
      const failed = results.some((r) => r.status === 'rejected' && !isAbort(r.reason));
      setState(this.root, failed ? 'error' : 'ready');
    });
  }

  private go(changes: Params, replace = false): void {
    const next: Params = { ...this.params, ...changes };
    if (Object.keys(changes).some((k) => (FILTERS as readonly string[]).includes(k))) delete next.offset;
    for (const k of Object.keys(next)) if (!next[k]) delete next[k];
    navigate('overview', next, replace);
  }

  private page(dir: number): void {
    const offset = Math.max(0, Number(this.params.offset || 0) + dir * PAGE);
    this.go({ offset: offset ? String(offset) : '' });
  }

  private syncInputs(): void {
    const p = this.params;
    this.from.value = p.from ?? '';
    this.to.value = p.to ?? '';
    if (document.activeElement !== this.customer) this.customer.value = p.customer ?? '';
    if (document.activeElement !== this.search) this.search.value = p.q ?? '';
    for (const k of LISTS) this.selects[k].setSelected(list(p, k));
    this.bucket.value = p.bucket || 'month';
  }

  /** Runs one request kind, cancelling the previous one of the same kind. */
  private async fetch<T>(kind: string, path: string, q: Params): Promise<T> {
    this.aborts.get(kind)?.abort();
    const ac = new AbortController();
    this.aborts.set(kind, ac);
    try {
      const res = await api<T>(path, q, ac.signal);
      clearError(`overview-${kind}`);
      return res;
    } catch (e) {
      showError(`overview-${kind}`, e);
      throw e;
    } finally {
      if (this.aborts.get(kind) === ac) this.aborts.delete(kind);
    }
  }

  private loadOptions(): void {
    if (this.options) return;
    this.optionsPromise = this.fetch<SalesOptions>('options', '/api/v1/sales/options', {}).then((o) => {
      this.options = o;
      for (const k of LISTS) this.selects[k].setOptions(o[k] ?? []);
      for (const input of [this.from, this.to]) {
        input.min = o.min_date ?? '';
        input.max = o.max_date ?? '';
      }
      this.from.placeholder = o.min_date ?? '';
      this.to.placeholder = o.max_date ?? '';
    });
    this.optionsPromise.catch(() => {
      this.optionsPromise = null;
    });
  }

  private async loadSummary(): Promise<void> {
    let s: SalesSummary;
    try {
      s = await this.fetch<SalesSummary>('summary', '/api/v1/sales/summary', filtersOf(this.params));
    } catch (e) {
      // Never leave the previous filter's numbers under the new filter.
      if (!isAbort(e)) this.renderSummary(null);
      throw e;
    }
    this.renderSummary(s);
  }

  private renderSummary(s: SalesSummary | null): void {
    const k = this.kpis;
    if (!s) {
      for (const x of Object.values(k)) x.set(null, '—');
      this.datasetNote.textContent = '';
      for (const [c, p] of [[this.cLine, this.pLine], [this.cStatus, this.pStatus], [this.cCust, this.pCust], [this.cCountry, this.pCountry]] as const) this.hbar(c, [], p);
      this.donut(this.cDeal, [], this.pDeal);
      this.donut(this.cTerritory, [], this.pTerritory);
      return;
    }
    k.total.set(s.total_sales, money(s.total_sales));
    k.orders.set(s.orders, int(s.orders));
    k.avg.set(s.avg_sales_per_order, money(s.avg_sales_per_order), `${money(s.avg_sales_per_row)} per line`);
    k.customers.set(s.customers, int(s.customers));
    k.rows.set(s.rows, int(s.rows));
    k.quantity.set(s.quantity, int(s.quantity));
    const d = s.dataset;
    const origin = d?.view
      ? `From views built ${ago(d.view.built_at)} by ${d.view.engine} (${d.path}, ${int(d.records)} records for ${int(d.rows)} rows` +
        `${d.view.current ? '' : '; stale: ' + (d.view.stale ?? 'older than its dataset')})`
      : d
        ? `From rows: dataset ${d.path}, version ${d.version}, ${int(d.rows)} rows in ${int(d.files)} file${d.files === 1 ? '' : 's'}`
        : '';
    this.datasetNote.textContent = d
      ? origin + (s.elapsed_ms !== undefined ? ` · answered in ${s.elapsed_ms} ms${s.cached ? ' (cached)' : ''}` : '')
      : '';

    this.hbar(this.cLine, s.by_productline, this.pLine);
    this.hbar(this.cStatus, s.by_status, this.pStatus);
    this.hbar(this.cCust, s.top_customers, this.pCust);
    this.hbar(this.cCountry, s.by_country, this.pCountry);
    this.donut(this.cDeal, s.by_dealsize, this.pDeal);
    this.donut(this.cTerritory, s.by_territory, this.pTerritory);
  }

  private hbar(chart: Chart, groups: Group[], p: Panel): void {
    const g = [...(groups ?? [])].reverse(); // largest on top
    const option: Option = {
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      tooltip: {
        trigger: 'axis',
        axisPointer: { type: 'shadow' },
        formatter: (items: any) => {
          const it = Array.isArray(items) ? items[0] : items;
          const gr = g[it.dataIndex];
          return gr ? `${esc(gr.key)}<br>${money(gr.sales)} · ${int(gr.orders)} orders · ${int(gr.rows)} lines` : '';
        },
      },
      xAxis: { type: 'value', splitNumber: 4, axisLabel: { formatter: (v: number) => moneyShort(v), hideOverlap: true } },
      yAxis: { type: 'category', data: g.map((x) => x.key), axisLabel: { width: 130, overflow: 'truncate' } },
      series: [{ type: 'bar', data: g.map((x) => x.sales), cursor: 'pointer', barMaxWidth: 28 }],
    };
    chart.set(option, { empty: g.length === 0, summary: summarize(groups ?? [], (x) => `${x.key} ${moneyShort(x.sales)}`) });
    p.setCsv(groupCsv(groups ?? []));
  }

  private donut(chart: Chart, groups: Group[], p: Panel): void {
    const g = groups ?? [];
    chart.set(
      {
        tooltip: {
          trigger: 'item',
          formatter: (it: any) => `${esc(it.name)}<br>${money(it.value)} (${it.percent}%)`,
        },
        series: [
          {
            type: 'pie',
            radius: ['38%', '60%'],
            cursor: 'pointer',
            minAngle: 3,
            label: { formatter: '{b}\n{d}%', lineHeight: 16, minMargin: 4 },
            labelLine: { length: 8, length2: 8 },
            data: g.map((x) => ({ name: x.key, value: x.sales })),
          },
        ],
      },
      { empty: g.length === 0, summary: summarize(g, (x) => `${x.key} ${moneyShort(x.sales)}`) },
    );
    p.setCsv(groupCsv(g));
  }

  private async loadTimeseries(): Promise<void> {
    const bucket = this.params.bucket || 'month';
    const ts = await this.fetch<Timeseries>('timeseries', '/api/v1/sales/timeseries', { ...filtersOf(this.params), bucket });
    const pts = ts.points ?? [];
    const many = pts.length > 60;
    this.cTime.set(
      {
        grid: { left: 8, right: 24, top: 16, bottom: 8, containLabel: true },
        tooltip: {
          trigger: 'axis',
          formatter: (items: any) => {
            const it = Array.isArray(items) ? items[0] : items;
            const pt = pts[it.dataIndex];
            return pt ? `${esc(pt.key)}<br>${money(pt.sales)} · ${int(pt.orders)} orders` : '';
          },
        },
        xAxis: { type: 'time', axisLabel: { hideOverlap: true } },
        yAxis: { type: 'value', axisLabel: { formatter: (v: number) => moneyShort(v) } },
        series: [
          {
            type: bucket === 'year' || bucket === 'quarter' ? 'bar' : 'line',
            name: 'Revenue',
            data: pts.map((p) => [p.start, p.sales]),
            showSymbol: !many,
            smooth: false,
            areaStyle: bucket === 'year' || bucket === 'quarter' ? undefined : { opacity: 0.15 },
            barMaxWidth: 48,
          },
        ],
      },
      {
        empty: pts.length === 0,
        summary: `${pts.length} ${bucket} buckets` + (pts.length ? `, from ${pts[0].key} to ${pts[pts.length - 1].key}` : ''),
      },
    );
    this.pTime.setCsv({
      header: ['key', 'start', 'sales', 'rows', 'orders'],
      rows: pts.map((p) => [p.key, p.start, p.sales.toFixed(2), p.rows, p.orders]),
    });
  }

  private async loadRows(): Promise<void> {
    const p = this.params;
    const sort = p.sort || DEFAULT_SORT;
    const offset = Number(p.offset || 0);
    const q: Params = { ...filtersOf(p), sort, limit: String(PAGE), offset: String(offset) };
    // The table's own search replaces the customer filter for the table only.
    if (p.q) q.customer = p.q;
    const res = await this.fetch<SalesRows>('rows', '/api/v1/sales/rows', q);
    this.rowsTotal = res.total;
    const sortKey = sort.replace(/^-/, '');
    const desc = sort.startsWith('-');
    const head = h(
      'tr',
      null,
      COLUMNS.map((c) => {
        const on = c.key === sortKey;
        const th = h('th', {
          scope: 'col',
          class: c.num ? 'num' : '',
          'aria-sort': on ? (desc ? 'descending' : 'ascending') : 'none',
        });
        th.append(
          h(
            'button',
            {
              type: 'button',
              class: 'sort-button',
              'data-testid': `orders-sort-${c.key}`,
              'aria-label': `Sort by ${c.label}${on ? (desc ? ', now descending' : ', now ascending') : ''}`,
              onclick: () => this.go({ sort: on && !desc ? `-${c.key}` : on ? c.key : defaultDir(c), offset: '' }),
            },
            c.label,
            h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, on ? (desc ? ' ▼' : ' ▲') : ''),
          ),
        );
        return th;
      }),
    );
    const body = res.rows.map((r) =>
      h(
        'tr',
        null,
        COLUMNS.map((c) => h('td', { class: c.num ? 'num' : '' }, c.cell(r))),
      ),
    );
    fill(
      this.table,
      h('caption', { class: 'visually-hidden' }, 'Order lines; column headers sort'),
      h('thead', null, head),
      h('tbody', null, body.length ? body : h('tr', null, h('td', { colspan: COLUMNS.length, class: 'empty' }, 'No order lines match.'))),
    );
    const first = res.total === 0 ? 0 : res.offset + 1;
    const last = res.offset + res.rows.length;
    this.pageInfo.textContent = `${int(first)}–${int(last)} of ${int(res.total)}`;
    this.prev.disabled = res.offset <= 0;
    this.next.disabled = last >= this.rowsTotal;
    this.pOrders.setCsv({
      header: COLUMNS.map((c) => c.key).concat(['orderlinenumber']),
      rows: res.rows.map((r) => [
        r.ordernumber,
        r.orderdate,
        r.customer,
        r.productline,
        r.productcode,
        r.quantity,
        r.priceeach.toFixed(2),
        r.sales.toFixed(2),
        r.status,
        r.dealsize,
        r.country,
        r.territory,
        r.orderlinenumber,
      ]),
    });
  }
}

/** Numbers and dates sort largest/newest first on the first click. */
function defaultDir(c: Column): string {
  return c.num || c.key === 'orderdate' ? `-${c.key}` : c.key;
}
