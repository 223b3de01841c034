// Every request goes through api(): JSON decoding, the {status, error, message} error
// shape, 401 -> the sign-in handler then one retry, 503/429 -> wait Retry-After and retry.
// The sign-in handler (the login dialog) sits on top of this client: login.ts
// registers it with onUnauthorized(); the client does not know the dialog.

type SignIn = () => Promise<void>;
let signIn: SignIn | null = null;

/** What a request answered with 401 waits for before its one retry. */
export function onUnauthorized(handler: SignIn): void {
  signIn = handler;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

/** Query string with lists kept as literal commas: productline=Classic%20Cars,Motorcycles. */
export function queryString(q: Query): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === null || v === undefined || v === '' || v === false) continue;
    const s = v === true ? '1' : String(v);
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(s).replace(/%2C/gi, ',')}`);
  }
  return parts.join('&');
}

export function url(path: string, q: Query = {}): string {
  const qs = queryString(q);
  return qs ? `${path}?${qs}` : path;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new DOMException('aborted', 'AbortError'));
    });
  });

async function errorFrom(res: Response): Promise<ApiError> {
  let body: { status?: number; error?: string; message?: string } | null = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  const message = body?.message || `${res.status} ${res.statusText || 'error'} from ${new URL(res.url).pathname}`;
  return new ApiError(body?.status ?? res.status, body?.error ?? '', message);
}

/** GET path?q as JSON. Rejects with ApiError, or DOMException AbortError when aborted. */
export async function api<T>(path: string, q: Query = {}, signal?: AbortSignal): Promise<T> {
  const target = url(path, q);
  let retries = 0;
  let loggedIn = false;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(target, { signal, headers: { Accept: 'application/json' }, credentials: 'same-origin' });
    } catch (e) {
      if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
      throw new ApiError(0, 'network', `cannot reach the server for ${path} (${(e as Error).message})`);
    }
    if (res.ok) return (await res.json()) as T;
    if (res.status === 401 && !loggedIn && signIn) {
      await signIn();
      loggedIn = true;
      continue;
    }
    if ((res.status === 503 || res.status === 429) && retries < 5) {
      retries++;
      const after = Number(res.headers.get('Retry-After'));
      await sleep((Number.isFinite(after) && after > 0 ? Math.min(after, 30) : 1) * 1000, signal);
      continue;
    }
    throw await errorFrom(res);
  }
}

/** POST JSON; used by the login form only. */
export async function postJson(path: string, body: unknown): Promise<Response> {
  return fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
}

export { errorFrom };
