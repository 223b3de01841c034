// The app shell: theme, tabs (a keyboard-operable tablist), and the hash router.
import './style.css';
import { $ } from './dom';
import { installLogin } from './login';
import { onRoute, current, TABS, type Tab, type Route } from './router';
import { rethemeAll, currentTheme } from './charts';
import type { View } from './view';
import { OverviewView } from './views/overview';
import { LiveView } from './views/live';
import { LogsView } from './views/logs';
import { HealthView } from './views/health';
import { LakeView } from './views/lake';
import { QualityView } from './views/quality';

// A request that answers 401 brings up the login dialog, then retries once.
installLogin();

// Theme: follow prefers-color-scheme until the user picks one with the toggle (saved).
const THEME_KEY = 'comptoir-theme';
const saved = localStorage.getItem(THEME_KEY);
if (saved === 'light' || saved === 'dark') document.documentElement.dataset.theme = saved;
const themeButton = $('#theme-toggle');
function labelTheme(): void {
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  themeButton.setAttribute('aria-label', `Switch to ${next} theme`);
  themeButton.title = `Switch to ${next} theme`;
  themeButton.textContent = currentTheme() === 'dark' ? '☀' : '☾';
}
themeButton.addEventListener('click', () => {
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  localStorage.setItem(THEME_KEY, next);
  labelTheme();
  rethemeAll();
});
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  if (!document.documentElement.dataset.theme) {
    labelTheme();
    rethemeAll();
  }
});
labelTheme();

const factories: Record<Tab, () => View> = {
  overview: () => new OverviewView(),
  live: () => new LiveView(),
  logs: () => new LogsView(),
  health: () => new HealthView(),
  quality: () => new QualityView(),
  lake: () => new LakeView(),
};
const views = new Map<Tab, View>();
let active: Tab | null = null;

const tabs = TABS.map((t) => $(`#tab-${t}`));

// A tab link returns to that tab's last view (its filters), not to a blank one.
function rememberHash(tab: Tab): void {
  const link = tabs[TABS.indexOf(tab)] as HTMLAnchorElement;
  link.href = location.hash || `#/${tab}`;
}

function apply(route: Route): void {
  const { tab, params } = route;
  if (tab === active) {
    rememberHash(tab);
    views.get(tab)!.update(params);
    return;
  }
  if (active) {
    views.get(active)!.leave();
    $(`#panel-${active}`).hidden = true;
  }
  let view = views.get(tab);
  if (!view) {
    view = factories[tab]();
    views.set(tab, view);
    $(`#panel-${tab}`).append(view.root);
  }
  for (const el of tabs) {
    const on = el.dataset.tab === tab;
    el.setAttribute('aria-selected', on ? 'true' : 'false');
    el.tabIndex = on ? 0 : -1;
  }
  $(`#panel-${tab}`).hidden = false;
  active = tab;
  rememberHash(tab);
  document.title = `${tab[0].toUpperCase()}${tab.slice(1)} · Comptoir`;
  view.enter(params);
}

// Tablist keys (WAI-ARIA tabs pattern, automatic activation): arrows, Home, End.
$('.tabs').addEventListener('keydown', (ev) => {
  const i = tabs.indexOf(document.activeElement as HTMLElement);
  if (i < 0) return;
  let j = -1;
  if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
  else if (ev.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
  else if (ev.key === 'Home') j = 0;
  else if (ev.key === 'End') j = tabs.length - 1;
  else if (ev.key === ' ') j = i;
  if (j < 0) return;
  ev.preventDefault();
  tabs[j].focus();
  tabs[j].click();
});

// Leaving the page: close streams cleanly (no console noise from aborted requests).
addEventListener('pagehide', () => {
  if (active) views.get(active)!.leave();
});
addEventListener('pageshow', (ev) => {
  if (ev.persisted && active) views.get(active)!.enter(current().params);
});

onRoute(apply);
if (!location.hash) history.replaceState(null, '', '#/overview');
apply(current());
