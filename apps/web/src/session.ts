/**
 * The dashboard's session. The access token lives only in this module's memory (never in
 * localStorage or a cookie the page can read); the refresh token is an httpOnly cookie the server
 * sets on /auth/session (docs/security.md, "The dashboard session"). A reload starts with no access
 * token and gets one from the cookie. One refresh in flight at a time: the server treats a second
 * use of a refresh token as theft.
 */
type Answer = { accessToken: string; expiresIn: number };
export type SessionState = 'unknown' | 'in' | 'out';

let accessToken: string | undefined;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let inFlight: Promise<string | undefined> | undefined;
let state: SessionState = 'unknown';
const listeners = new Set<() => void>();

function setState(next: SessionState) {
  if (next === state) return;
  state = next;
  for (const l of listeners) l();
}

export const session = {
  subscribe(l: () => void): () => void {
    listeners.add(l);
    return () => listeners.delete(l);
  },
  state: (): SessionState => state,
  token: (): string | undefined => accessToken,
};

export class SessionError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  if (res.status === 204) return undefined; // refresh without a session cookie
  const json = (await res.json().catch(() => ({}))) as
    | Answer
    | { error?: { code?: string; message?: string } };
  if (!res.ok) {
    const err = 'error' in json ? json.error : undefined;
    throw new SessionError(res.status, err?.code ?? 'error', err?.message ?? res.statusText);
  }
  return json as Answer;
}

function accept(a: Answer | undefined): string | undefined {
  if (!a) {
    drop();
    return undefined;
  }
  accessToken = a.accessToken;
  clearTimeout(refreshTimer);
  // A minute before expiry (never sooner than 10 s from now).
  const inMs = Math.max(10, a.expiresIn - 60) * 1000;
  refreshTimer = setTimeout(() => void refresh(), inMs);
  setState('in');
  return a.accessToken;
}

function drop(): void {
  accessToken = undefined;
  clearTimeout(refreshTimer);
  setState('out');
}

export async function login(email: string, password: string): Promise<void> {
  accept(await post('/auth/session', { email, password }));
}

/** A new access token from the cookie; undefined (and logged out) when the session is gone. */
export function refresh(): Promise<string | undefined> {
  inFlight ??= post('/auth/session/refresh', {})
    .then(accept, () => {
      drop();
      return undefined;
    })
    .finally(() => {
      inFlight = undefined;
    });
  return inFlight;
}

export async function logout(): Promise<void> {
  const token = accessToken ?? (await refresh());
  try {
    await post('/auth/session/logout', {}, token ? { authorization: `Bearer ${token}` } : {});
  } finally {
    drop();
  }
}

/**
 * fetch for API calls: sends the access token and, on a 401, refreshes once and retries with the
 * new one (silent refresh: an expired token costs the user nothing).
 */
export async function authFetch(
  input: RequestInfo | URL,
  init: RequestInit = {},
): Promise<Response> {
  const send = (token: string | undefined) => {
    const headers = new Headers(init.headers);
    if (token) headers.set('authorization', `Bearer ${token}`);
    else headers.delete('authorization');
    return fetch(input, { ...init, headers });
  };
  const token = accessToken ?? (state === 'unknown' ? await refresh() : undefined);
  const res = await send(token);
  if (res.status !== 401 || init.body instanceof ReadableStream) return res;
  // Someone else may have refreshed while this call was out: use theirs before refreshing again.
  const fresh = accessToken && accessToken !== token ? accessToken : await refresh();
  return fresh ? send(fresh) : res;
}
