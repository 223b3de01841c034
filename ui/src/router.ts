// Hash routes: #/<tab>?<params>. The hash is the whole state of a view, so a URL can be
// shared and a reload restores it. Lists are comma-separated: productline=Classic%20Cars,Motorcycles.
import { queryString } from './api';

export const TABS = ['overview', 'live', 'logs', 'health', 'quality', 'lake'] as const;
export type Tab = (typeof TABS)[number];
export type Params = Record<string, string>;

export interface Route {
  tab: Tab;
  params: Params;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const path = (q < 0 ? h : h.slice(0, q)).replace(/\/+$/, '');
  const tab = (TABS as readonly string[]).includes(path) ? (path as Tab) : 'overview';
  const params: Params = {};
  if (q >= 0) {
    for (const part of h.slice(q + 1).split('&')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      const k = eq < 0 ? part : part.slice(0, eq);
      const v = eq < 0 ? '' : part.slice(eq + 1);
      try {
        params[decodeURIComponent(k.replace(/\+/g, ' '))] = decodeURIComponent(v.replace(/\+/g, ' '));
      } catch {
        // A malformed escape in a hand-edited URL: ignore that parameter.
      }
    }
  }
  return { tab, params };
}

export function buildHash(tab: Tab, params: Params = {}): string {
  const qs = queryString(params);
  return `#/${tab}${qs ? `?${qs}` : ''}`;
}

type Listener = (route: Route) => void;
let listener: Listener | null = null;

export function onRoute(fn: Listener): void {
  listener = fn;
  window.addEventListener('hashchange', () => fn(current()));
}

export function current(): Route {
  return parseHash(location.hash);
}

/**
 * Changes the URL to tab+params and applies it. `replace` keeps one history entry
 * (used while typing); otherwise Back returns to the previous view.
 */
export function navigate(tab: Tab, params: Params, replace = false): void {
  const hash = buildHash(tab, params);
  if (hash === location.hash) return;
  if (replace) history.replaceState(null, '', hash);
  else history.pushState(null, '', hash);
  listener?.(current());
}

/** Returns a list parameter as an array ("a,b" -> ["a", "b"]). */
export function list(params: Params, key: string): string[] {
  const v = params[key];
  return v ? v.split(',').filter(Boolean) : [];
}
