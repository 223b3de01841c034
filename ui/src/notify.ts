// The error banner: one line per source (a view or a request kind), replaced when
// the same source fails again and removed when it next succeeds. Never a blank page.
import { h, $ } from './dom';
import { ApiError } from './api';

const entries = new Map<string, HTMLElement>();

function banner(): HTMLElement {
  return $('#banner');
}

export function describe(err: unknown): string {
  if (err instanceof ApiError) {
    return err.status ? `${err.message} (HTTP ${err.status}${err.code ? ` ${err.code}` : ''})` : err.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

/** Shows (or replaces) the message for `source`; aborted requests are ignored. */
export function showError(source: string, err: unknown): void {
  if (isAbort(err)) return;
  const b = banner();
  const text = describe(err);
  const old = entries.get(source);
  const line = h(
    'div',
    { class: 'banner-line', 'data-source': source, role: 'alert' },
    h('span', { class: 'banner-text' }, text),
    h(
      'button',
      {
        type: 'button',
        class: 'icon-button',
        'aria-label': 'Dismiss this message',
        'data-testid': 'error-dismiss',
        onclick: () => clearError(source),
      },
      '×',
    ),
  );
  if (old) old.replaceWith(line);
  else b.append(line);
  entries.set(source, line);
  b.hidden = false;
}

export function clearError(source: string): void {
  const old = entries.get(source);
  if (!old) return;
  old.remove();
  entries.delete(source);
  banner().hidden = entries.size === 0;
}
