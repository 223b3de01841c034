// Quality: per dataset with [[quality.rule]], the last run's results, each rule's trend
// over the recent runs, and a run's rejects with their reasons, a page at a time
// (#/quality?dataset=/user/sqoop/sales&run=<run>&offset=0).
import { h, fill } from '../dom';
import { api } from '../api';
import { navigate, type Params } from '../router';
import { int, localTime } from '../format';
import { showError, clearError, isAbort } from '../notify';
import { panel, statusBadge } from '../widgets';
import { setState, type View } from '../view';
import type { Quality, QualityDataset, QualityRejects, QualityRun } from '../types';

const PAGE = 25;

// A rule's failed counts over the runs, oldest first, as bars (null: the rule did not exist).
function trend(values: (number | null)[]): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const w = 6;
  const height = 22;
  const max = Math.max(1, ...values.map((v) => v ?? 0));
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', String(values.length * (w + 2)));
  svg.setAttribute('height', String(height));
  svg.setAttribute('class', 'quality-trend');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `failed per run, oldest first: ${values.map((v) => (v === null ? '–' : v)).join(', ')}`);
  values.forEach((v, i) => {
    const bar = document.createElementNS(ns, 'rect');
    const bh = v === null ? 1 : Math.max(1, Math.round(((v ?? 0) / max) * (height - 2)));
    bar.setAttribute('x', String(i * (w + 2)));
    bar.setAttribute('y', String(height - bh));
    bar.setAttribute('width', String(w));
    bar.setAttribute('height', String(bh));
    bar.setAttribute('class', v === null ? 'none' : v > 0 ? 'bad' : 'ok');
    svg.append(bar);
  });
  return svg;
}

export class QualityView implements View {
  readonly root = h('div', { class: 'view', 'data-testid': 'view-quality', 'data-state': 'loading' });
  private params: Params = {};
  private data: Quality | null = null;
  private shownRejects = '';
  private abort: AbortController | null = null;
  private abortRejects: AbortController | null = null;
  private readonly list = h('div', { class: 'quality-list', 'data-testid': 'quality-datasets' });
  private readonly pRejects = panel('quality-rejects', 'Rejected records', { wide: true, csvName: 'rejects' });
  private readonly rejectsNote = h('p', { class: 'dataset-note', 'data-testid': 'quality-rejects-note' });
  private readonly rejectsTable = h('table', { class: 'data-table', 'data-testid': 'quality-rejects' });
  private readonly pager = h('div', { class: 'pager' });

  constructor() {
    this.pRejects.body.append(this.rejectsNote, h('div', { class: 'table-scroll' }, this.rejectsTable), this.pager);
    this.pRejects.root.hidden = true;
    this.root.append(
      h('div', { class: 'live-bar' }, h('button', { type: 'button', class: 'small-button', 'data-testid': 'quality-refresh', onclick: () => this.load() }, 'Refresh now')),
      this.list,
      h('div', { class: 'grid' }, this.pRejects.root),
    );
  }

  enter(params: Params): void {
    this.params = params;
    this.shownRejects = '';
    this.load();
  }

  update(params: Params): void {
    this.params = params;
    this.showRejects();
  }

  leave(): void {
    this.abort?.abort();
    this.abortRejects?.abort();
  }

  private async load(): Promise<void> {
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    setState(this.root, 'loading');
    try {
      this.data = await api<Quality>('/api/v1/quality', {}, ac.signal);
      clearError('quality');
      this.render();
      setState(this.root, 'ready');
      this.shownRejects = '';
      this.showRejects();
    } catch (e) {
      if (isAbort(e)) return;
      showError('quality', e);
      setState(this.root, 'error');
    }
  }

  private render(): void {
    const sets = this.data?.datasets ?? [];
    if (sets.length === 0) {
      fill(this.list, h('p', { class: 'muted', 'data-testid': 'quality-empty' }, 'No [[quality.rule]] in the configuration: docs/quality.md shows how to write them.'));
      return;
    }
    fill(this.list, sets.map((d) => this.card(d)));
  }

  private card(d: QualityDataset): HTMLElement {
    const last: QualityRun | undefined = d.runs[d.runs.length - 1];
    const state = !last ? 'ok' : last.outcome === 'failed' ? 'degraded' : 'ok';
    const head = h(
      'div',
      { class: 'health-head' },
      h('h2', null, d.dataset),
      statusBadge('quality-outcome', last ? state : 'ok', last ? (last.outcome === 'failed' ? 'FAILED' : 'published') : 'no run yet'),
    );
    const card = h('section', { class: 'health-card quality-card', 'data-testid': 'quality-dataset', 'data-dataset': d.dataset, 'data-status': state }, head);
    if (d.error) card.append(h('p', { class: 'health-detail' }, d.error));
    if (!last) {
      card.append(h('p', { class: 'muted' }, 'No ingest with rules has run for this dataset yet.'));
      return card;
    }
    const stat = (testid: string, label: string, n: number) => h('div', { class: 'quality-stat' }, h('span', { class: 'muted' }, label), h('strong', { 'data-testid': testid, 'data-value': n }, int(n)));
    card.append(
      h('p', { class: 'muted' }, `Last run ${last.run} (${last.writer}), ${localTime(last.time)}`),
      h(
        'div',
        { class: 'quality-stats' },
        stat('quality-rows-in', 'Rows in', last.rows_in),
        stat('quality-rows-out', 'Published', last.rows_out),
        stat('quality-rejected', 'Rejected', last.rejected),
        stat('quality-warned', 'Warned', last.warned),
      ),
    );
    if (last.failure) card.append(h('p', { class: 'health-detail', 'data-testid': 'quality-failure' }, last.failure));
    const rows = last.rules.map((r) =>
      h(
        'tr',
        { 'data-testid': 'quality-rule', 'data-number': r.number, 'data-failed': r.failed },
        h('td', { class: 'num' }, r.number),
        h('td', null, r.name === `rule ${r.number}` ? r.describe : `${r.name}: ${r.describe}`),
        h('td', null, r.action),
        h('td', { class: 'num' }, int(r.failed)),
        h('td', null, trend(d.runs.map((run) => run.rules.find((x) => x.number === r.number)?.failed ?? null))),
      ),
    );
    card.append(
      h(
        'div',
        { class: 'table-scroll' },
        h('table', { class: 'data-table' }, h('thead', null, h('tr', null, h('th', null, '#'), h('th', null, 'Rule'), h('th', null, 'Action'), h('th', null, 'Failed'), h('th', null, `Trend (${d.runs.length} runs)`))), h('tbody', null, rows)),
      ),
    );
    const withRejects = d.runs.filter((r) => r.rejects_dir).reverse();
    if (withRejects.length > 0) {
      card.append(
        h(
          'p',
          null,
          'Rejects of run ',
          withRejects.flatMap((r, i) => [
            i > 0 ? ', ' : '',
            h('a', { href: `#/quality?dataset=${encodeURIComponent(d.dataset)}&run=${encodeURIComponent(r.run)}`, 'data-testid': 'quality-rejects-link', 'data-run': r.run }, `${r.run} (${int(r.rejected)})`),
          ]),
        ),
      );
    }
    return card;
  }

  private async showRejects(): Promise<void> {
    const { dataset, run } = this.params;
    const offset = Math.max(0, Number(this.params.offset) || 0);
    const key = `${dataset}|${run}|${offset}`;
    if (!dataset || !run) {
      this.pRejects.root.hidden = true;
      return;
    }
    if (key === this.shownRejects) return;
    this.shownRejects = key;
    this.abortRejects?.abort();
    const ac = new AbortController();
    this.abortRejects = ac;
    this.pRejects.root.hidden = false;
    try {
      const res = await api<QualityRejects>('/api/v1/quality/rejects', { dataset, run, offset: String(offset), limit: String(PAGE) }, ac.signal);
      clearError('quality-rejects');
      const last = Math.min(res.total, offset + res.rows.length);
      this.rejectsNote.textContent = `${dataset}, run ${run}: records ${res.total === 0 ? 0 : offset + 1}–${last} of ${int(res.total)}`;
      fill(
        this.rejectsTable,
        h('thead', null, h('tr', null, res.columns.map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, res.rows.map((row) => h('tr', { 'data-testid': 'quality-reject' }, row.map((v) => h('td', { class: v === null ? 'muted' : null }, v === null ? 'NULL' : v))))),
      );
      this.pRejects.setCsv({ header: res.columns, rows: res.rows });
      const go = (o: number) => navigate('quality', { ...this.params, offset: String(o) });
      fill(
        this.pager,
        h('button', { type: 'button', class: 'small-button', 'data-testid': 'quality-prev', disabled: offset === 0, onclick: () => go(Math.max(0, offset - PAGE)) }, 'Previous'),
        h('button', { type: 'button', class: 'small-button', 'data-testid': 'quality-next', disabled: last >= res.total, onclick: () => go(offset + PAGE) }, 'Next'),
      );
    } catch (e) {
      if (isAbort(e)) return;
      showError('quality-rejects', e);
    }
  }
}
