// Logs: search the agent's lake. The form lives in the hash (#/logs?q=timeout&level=ERROR).
// "Live tail" re-runs the newest-lines query every 2 s (logs have no stream endpoint).
import { h, fill, uid } from '../dom';
import { api } from '../api';
import { navigate, list, type Params } from '../router';
import { int, localTime } from '../format';
import { showError, clearError, isAbort } from '../notify';
import { panel } from '../widgets';
import { setState, type View } from '../view';
import type { LogSearch } from '../types';

const LEVELS = ['ERROR', 'WARNING', 'INFO', 'DEBUG'] as const;
const TAIL_MS = 2000;

/** datetime-local value (local time) -> ISO 8601 UTC; a bare date passes through. */
function toIso(local: string): string {
  if (!local) return '';
  if (/^\d{4}-\d{2}-\d{2}$/.test(local)) return local;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString();
}

/** ISO 8601 -> datetime-local value in local time. */
function toLocal(iso: string): string {
  if (!iso) return '';
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) return `${iso}T00:00`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export class LogsView implements View {
  readonly root = h('div', { class: 'view', 'data-testid': 'view-logs', 'data-state': 'loading' });
  private params: Params = {};
  private abort: AbortController | null = null;
  private tailTimer: ReturnType<typeof setTimeout> | undefined;
  private tailing = false;
  private active = false;

  private readonly q = h('input', { type: 'search', id: uid('logs-q'), 'data-testid': 'logs-query', placeholder: 'text in the message', autocomplete: 'off' });
  private readonly regex = h('input', { type: 'checkbox', id: uid('logs-regex'), 'data-testid': 'logs-regex' });
  private readonly levels = LEVELS.map((l) => h('input', { type: 'checkbox', value: l, 'data-testid': `logs-level-${l.toLowerCase()}` }));
  private readonly from = h('input', { type: 'datetime-local', id: uid('logs-from'), 'data-testid': 'logs-from' });
  private readonly to = h('input', { type: 'datetime-local', id: uid('logs-to'), 'data-testid': 'logs-to' });
  private readonly limit = h(
    'select',
    { id: uid('logs-limit'), 'data-testid': 'logs-limit' },
    ['100', '250', '500', '1000'].map((n) => h('option', { value: n }, n)),
  );
  private readonly tailButton = h(
    'button',
    { type: 'button', class: 'toggle-button', 'data-testid': 'logs-tail', 'aria-pressed': 'false' },
    'Live tail: off',
  );
  private readonly tailBadge = h(
    'span',
    { class: 'tail-badge', 'data-testid': 'logs-tail-badge', hidden: true, role: 'status' },
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    'LIVE TAIL: newest lines re-queried every 2 s',
  );
  private readonly meta = h('p', { class: 'dataset-note', 'data-testid': 'logs-meta', 'aria-live': 'polite' });
  private readonly results = h('table', { class: 'data-table logs-table', 'data-testid': 'logs-results' });
  private readonly pResults = panel('logs', 'Log lines (newest first)', { wide: true, csvName: 'log-lines' });

  constructor() {
    const form = h(
      'form',
      { class: 'filters', role: 'search', 'aria-label': 'Log search', 'data-testid': 'logs-form' },
      h('div', { class: 'field field-grow' }, h('label', { for: this.q.id }, 'Search'), this.q),
      h('div', { class: 'field field-inline' }, this.regex, h('label', { for: this.regex.id }, 'Regular expression (RE2)')),
      h(
        'fieldset',
        { class: 'levels', 'data-testid': 'logs-levels' },
        h('legend', null, 'Levels'),
        this.levels.map((box) => h('label', { class: `level-choice level-${box.value.toLowerCase()}` }, box, box.value)),
      ),
      h('div', { class: 'field' }, h('label', { for: this.from.id }, 'From (local time)'), this.from),
      h('div', { class: 'field' }, h('label', { for: this.to.id }, 'To (local time)'), this.to),
      h('div', { class: 'field' }, h('label', { for: this.limit.id }, 'Limit'), this.limit),
      h('button', { type: 'submit', class: 'primary-button', 'data-testid': 'logs-search' }, 'Search'),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const p: Params = {
        q: this.q.value.trim(),
        regex: this.regex.checked ? '1' : '',
        level: this.levels.filter((b) => b.checked).map((b) => b.value).join(','),
        from: toIso(this.from.value),
        to: toIso(this.to.value),
        limit: this.limit.value === '100' ? '' : this.limit.value,
      };
      for (const k of Object.keys(p)) if (!p[k]) delete p[k];
      // Same URL: search again anyway (new lines may have arrived).
      if (JSON.stringify(p) === JSON.stringify(this.params)) this.search();
      else navigate('logs', p);
    });
    this.tailButton.addEventListener('click', () => this.setTail(!this.tailing));
    this.pResults.controls.append(this.tailBadge, this.tailButton);
    this.pResults.body.append(this.meta, h('div', { class: 'table-scroll table-scroll-tall' }, this.results));
    this.root.append(form, h('div', { class: 'grid' }, this.pResults.root));
  }

  enter(params: Params): void {
    this.active = true;
    this.update(params);
    if (this.tailing) this.scheduleTail();
  }

  update(params: Params): void {
    this.params = params;
    this.q.value = params.q ?? '';
    this.regex.checked = params.regex === '1';
    const lv = list(params, 'level');
    for (const b of this.levels) b.checked = lv.includes(b.value);
    this.from.value = toLocal(params.from ?? '');
    this.to.value = toLocal(params.to ?? '');
    this.limit.value = params.limit ?? '100';
    this.search();
  }

  leave(): void {
    this.active = false;
    clearTimeout(this.tailTimer);
    this.abort?.abort();
  }

  private setTail(on: boolean): void {
    this.tailing = on;
    this.tailButton.setAttribute('aria-pressed', on ? 'true' : 'false');
    this.tailButton.textContent = on ? 'Live tail: on' : 'Live tail: off';
    this.tailBadge.hidden = !on;
    this.root.classList.toggle('tailing', on);
    clearTimeout(this.tailTimer);
    if (on) this.search();
  }

  private scheduleTail(): void {
    clearTimeout(this.tailTimer);
    if (this.tailing && this.active) this.tailTimer = setTimeout(() => this.search(), TAIL_MS);
  }

  private async search(): Promise<void> {
    this.abort?.abort();
    clearTimeout(this.tailTimer);
    const ac = new AbortController();
    this.abort = ac;
    const p = this.params;
    // The tail shows the newest lines: an upper time bound would freeze it.
    const query: Params = { q: p.q ?? '', regex: p.regex ?? '', level: p.level ?? '', from: p.from ?? '', to: this.tailing ? '' : p.to ?? '', limit: p.limit ?? '100' };
    if (this.root.dataset.state !== 'ready' || !this.tailing) setState(this.root, 'loading');
    try {
      const res = await api<LogSearch>('/api/v1/logs/search', query, ac.signal);
      clearError('logs');
      this.render(res);
      setState(this.root, 'ready');
    } catch (e) {
      if (isAbort(e)) return;
      showError('logs', e);
      setState(this.root, 'error');
    } finally {
      if (this.abort === ac) {
        this.abort = null;
        this.scheduleTail();
      }
    }
  }

  private render(res: LogSearch): void {
    const lines = res.lines ?? [];
    this.meta.textContent =
      `${int(lines.length)} line${lines.length === 1 ? '' : 's'}${res.truncated ? ' (limit reached: more lines match)' : ''}` +
      ` · ${int(res.files_scanned)} file${res.files_scanned === 1 ? '' : 's'} scanned, ${int(res.files_skipped)} skipped by time` +
      (this.tailing ? ` · refreshed ${localTime(new Date().toISOString())}` : '');
    fill(
      this.results,
      h('caption', { class: 'visually-hidden' }, 'Log lines, newest first'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'Level'), h('th', { scope: 'col' }, 'Message'), h('th', { scope: 'col' }, 'File'))),
      h(
        'tbody',
        null,
        lines.length
          ? lines.map((l) =>
              h(
                'tr',
                { class: `log-line level-${(l.level || '').toLowerCase()}`, 'data-level': l.level },
                h('td', { class: 'nowrap', title: l.ts }, localTime(l.ts)),
                h('td', null, h('span', { class: 'level-badge' }, l.level || '—')),
                h('td', { class: 'log-message' }, l.message),
                h('td', { class: 'log-file', title: l.file }, l.file.split('/').slice(-2).join('/')),
              ),
            )
          : h('tr', null, h('td', { colspan: 4, class: 'empty' }, 'No log lines match.')),
      ),
    );
    this.pResults.setCsv({ header: ['ts', 'level', 'message', 'file'], rows: lines.map((l) => [l.ts, l.level, l.message, l.file]) });
  }
}
