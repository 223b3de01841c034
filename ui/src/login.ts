// The login dialog, shown when a request answers 401. It POSTs {"token": "..."} to
// /api/v1/login (the server answers with a session cookie), then every waiting request retries.
import { $ } from './dom';
import { postJson, errorFrom, onUnauthorized } from './api';

let pending: Promise<void> | null = null;

/** Resolves once the user has logged in; concurrent callers share one dialog. */
export function requestLogin(): Promise<void> {
  if (!pending) {
    pending = new Promise<void>((resolve) => {
      const dialog = $('#login') as HTMLDialogElement;
      const form = $('#login-form', dialog) as HTMLFormElement;
      const input = $('#login-token', dialog) as HTMLInputElement;
      const msg = $('#login-message', dialog);
      msg.textContent = '';
      const onSubmit = async (ev: SubmitEvent) => {
        ev.preventDefault();
        msg.textContent = 'Signing in…';
        try {
          const res = await postJson('/api/v1/login', { token: input.value });
          if (!res.ok) {
            msg.textContent = (await errorFrom(res)).message;
            input.select();
            return;
          }
        } catch (e) {
          msg.textContent = `cannot reach the server (${(e as Error).message})`;
          return;
        }
        form.removeEventListener('submit', onSubmit);
        input.value = '';
        msg.textContent = '';
        dialog.close();
        pending = null;
        resolve();
      };
      form.addEventListener('submit', onSubmit);
      // Escape would leave the page without data; keep the dialog until signed in.
      dialog.addEventListener('cancel', (ev) => ev.preventDefault());
      if (!dialog.open) dialog.showModal();
      input.focus();
    });
  }
  return pending;
}

/** Makes every API request that answers 401 show the dialog, then retry once. */
export function installLogin(): void {
  onUnauthorized(requestLogin);
}
