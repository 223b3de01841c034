// Health: each component's status (ok green, degraded amber, down red), refreshed every 5 s
// while the tab is shown and the page is visible.
import { h, fill } from '../dom';
import { api } from '../api';
import type { Params } from '../router';
import { ago, localTime } from '../format';
import { showError, clearError, isAbort } from '../notify';
import { statusBadge } from '../widgets';
import { setState, type View } from '../view';
import type { Health } from '../types';

const REFRESH_MS = 5000;

export class HealthView implements View {
  readonly root = h('div', { class: 'view', 'data-testid': 'view-health', 'data-state': 'loading' });
  private timer: ReturnType<typeof setTimeout> | undefined;
  private abort: AbortController | null = null;
  private active = false;
  private readonly overall = h('div', { class: 'health-overall' });
  private readonly list = h('ul', { class: 'health-list', 'data-testid': 'health-components', 'aria-label': 'Components' });
  private readonly refreshed = h('span', { class: 'muted', 'data-testid': 'health-refreshed', 'aria-live': 'off' });
  private readonly onVisible = () => {
    if (!document.hidden && this.active) this.refresh();
  };

  constructor() {
    this.root.append(
      h(
        'div',
        { class: 'live-bar' },
        this.overall,
        h('button', { type: 'button', class: 'small-button', 'data-testid': 'health-refresh', onclick: () => this.refresh() }, 'Refresh now'),
        h('span', { class: 'muted' }, 'Auto-refresh every 5 s · '),
        this.refreshed,
      ),
      this.list,
    );
  }

  enter(_params: Params): void {
    this.active = true;
    document.addEventListener('visibilitychange', this.onVisible);
    this.refresh();
  }

  update(_params: Params): void {}

  leave(): void {
    this.active = false;
    document.removeEventListener('visibilitychange', this.onVisible);
    clearTimeout(this.timer);
    this.abort?.abort();
  }

  private async refresh(): Promise<void> {
    clearTimeout(this.timer);
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    try {
      const res = await api<Health>('/api/v1/health', {}, ac.signal);
      clearError('health');
      this.render(res);
      setState(this.root, 'ready');
    } catch (e) {
      if (isAbort(e)) return;
      showError('health', e);
      setState(this.root, 'error');
      fill(this.overall, statusBadge('health-overall', 'down', 'Unknown: the health check failed'));
    } finally {
      if (this.abort === ac) {
        this.abort = null;
        // A hidden page stops refreshing; visibilitychange restarts it.
        if (this.active && !document.hidden) this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
      }
    }
  }

  private render(res: Health): void {
    const overall = h('span', { class: 'overall-label' }, 'Overall: ');
    fill(this.overall, overall, statusBadge('health-overall', res.status, res.status.toUpperCase()));
    this.overall.title = `checked ${localTime(res.checked_at)}`;
    this.refreshed.textContent = `last refreshed ${localTime(new Date().toISOString())}`;
    fill(
      this.list,
      (res.components ?? []).map((c) =>
        h(
          'li',
          { class: 'health-card', 'data-testid': 'health-component', 'data-name': c.name, 'data-status': c.status },
          h('div', { class: 'health-head' }, h('h2', null, c.name), statusBadge('health-status', c.status, c.status)),
          h('p', { class: 'health-detail' }, c.detail || '—'),
          h(
            'p',
            { class: 'muted' },
            'Checked ',
            h('time', { datetime: c.checked_at, title: c.checked_at }, c.checked_at ? `${localTime(c.checked_at)} (${ago(c.checked_at)})` : 'never'),
          ),
        ),
      ),
    );
  }
}
