// The error banner: one line per distinct message, remembering which sources (a view or a
// request kind) reported it; a source's message goes away when that source next succeeds.
// Never a blank page.
import { h, $, fill } from './dom';
import { ApiError } from './api';

const bySource = new Map<string, string>(); // source -> message

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

function render(): void {
  const banner = $('#banner');
  const groups = new Map<string, string[]>();
  for (const [source, text] of bySource) groups.set(text, [...(groups.get(text) ?? []), source]);
  fill(
    banner,
    [...groups].map(([text, sources]) =>
      h(
        'div',
        { class: 'banner-line', 'data-source': sources.join(' '), role: 'alert' },
        h('span', { class: 'banner-text' }, text),
        h(
          'button',
          {
            type: 'button',
            class: 'icon-button',
            'aria-label': 'Dismiss this message',
            'data-testid': 'error-dismiss',
            onclick: () => {
              for (const s of sources) bySource.delete(s);
              render();
            },
          },
          '×',
        ),
      ),
    ),
  );
  banner.hidden = groups.size === 0;
}

/** Shows the message of `err` for `source` (replacing its previous one); aborts are ignored. */
export function showError(source: string, err: unknown): void {
  if (isAbort(err)) return;
  const text = describe(err);
  if (bySource.get(source) === text) return;
  bySource.set(source, text);
  render();
}

export function clearError(source: string): void {
  if (bySource.delete(source)) render();
}
