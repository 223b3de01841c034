import type { Params } from './router';

/**
 * One tab. Views are created once and kept; enter() runs when the tab is shown
 * (fetch, start streams and timers), update() when only the hash parameters change,
 * leave() when another tab is shown (stop streams and timers).
 * The root carries data-testid="view-<tab>" and data-state="loading|ready|error".
 */
export interface View {
  readonly root: HTMLElement;
  enter(params: Params): void;
  update(params: Params): void;
  leave(): void;
}

export function setState(root: HTMLElement, state: 'loading' | 'ready' | 'error'): void {
  root.dataset.state = state;
  root.setAttribute('aria-busy', state === 'loading' ? 'true' : 'false');
}
