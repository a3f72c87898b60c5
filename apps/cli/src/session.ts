import { createTollgateClient, type TollgateClient } from '@tollgate/client';
import { readLogin, type StoredLogin, writeLogin } from './config-store.ts';
import { CliError, describeError, httpStatusOf, usageError } from './errors.ts';

/** Options every command inherits (commander also fills them from TOLLGATE_URL/TOLLGATE_API_KEY). */
export type GlobalOpts = { url?: string; apiKey?: string };

export type Connection = {
  url: string;
  how: 'api key' | 'login';
  client: TollgateClient;
  /** A client with the same credentials that also sends `headers` (e.g. Idempotency-Key). */
  withHeaders: (headers: Record<string, string>) => TollgateClient;
  /**
   * Runs `fn` with the client. With a stored login, an access token about to expire is refreshed
   * first, and a 401 (expired or otherwise refused access token) refreshes once and runs it again.
   */
  call: <T>(fn: (client: TollgateClient) => Promise<T>) => Promise<T>;
};

type Session = Extract<StoredLogin, { refreshToken: string }>;

/** Refresh this long before the access token's expiry, so it cannot lapse mid-request. */
const refreshMarginMs = 60_000;

/** fetch that adds `headers` to every request (the client's own fetch option). */
function fetchWith(headers: Record<string, string>): typeof fetch {
  return (input, init) =>
    fetch(input, {
      ...init,
      headers: { ...Object.fromEntries(new Headers(init?.headers)), ...headers },
    });
}

export function normalizeUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw usageError(`not a URL: ${raw} (expected e.g. http://127.0.0.1:3000)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw usageError(`not an http(s) URL: ${raw}`);
  }
  return u.toString().replace(/\/+$/, '');
}

export function tokenExpiry(expiresInSeconds: number, now = Date.now()): string {
  return new Date(now + expiresInSeconds * 1000).toISOString();
}

/**
 * The server and credentials for a command: --api-key/TOLLGATE_API_KEY wins; otherwise the stored
 * login, but only for the server it was made for (a stored token is never sent to another --url).
 */
export function connect(opts: GlobalOpts): Connection {
  const stored = readLogin();
  const url = opts.url ? normalizeUrl(opts.url) : stored?.url;
  if (!url) {
    throw new CliError(
      'not_logged_in',
      'not logged in: run `tollgate login`, or pass --url and --api-key (TOLLGATE_URL, TOLLGATE_API_KEY)',
    );
  }
  const apiKey = opts.apiKey ?? (stored?.url === url && 'apiKey' in stored ? stored.apiKey : null);
  if (apiKey) {
    const client = createTollgateClient({ url, apiKey });
    const withHeaders = (headers: Record<string, string>) =>
      createTollgateClient({ url, apiKey, fetch: fetchWith(headers) });
    return { url, how: 'api key', client, withHeaders, call: (fn) => fn(client) };
  }
  if (!stored || stored.url !== url || !('refreshToken' in stored)) {
    throw new CliError(
      'not_logged_in',
      `not logged in to ${url}: run \`tollgate login --url ${url}\`, or pass --api-key`,
    );
  }
  return sessionConnection(stored);
}

function sessionConnection(initial: Session): Connection {
  let session = initial;
  const url = session.url;
  const client = createTollgateClient({ url, accessToken: () => session.accessToken });

  const refresh = async () => {
    // Another tollgate process may have refreshed already: its tokens are the live ones, and
    // spending our (rotated) refresh token again would revoke the whole family.
    const onDisk = readLogin();
    if (
      onDisk &&
      'refreshToken' in onDisk &&
      onDisk.url === url &&
      onDisk.refreshToken !== session.refreshToken &&
      Date.parse(onDisk.accessTokenExpiresAt) - refreshMarginMs > Date.now()
    ) {
      session = onDisk;
      return;
    }
    let pair: { accessToken: string; refreshToken: string; expiresIn: number };
    try {
      pair = await createTollgateClient({ url }).auth.refresh.mutate({
        refreshToken: session.refreshToken,
      });
    } catch (e) {
      if (httpStatusOf(e) !== 401) throw e;
      const { code, message } = describeError(e, url);
      throw new CliError(code, `${message}; run \`tollgate login\` again`);
    }
    session = {
      ...session,
      accessToken: pair.accessToken,
      refreshToken: pair.refreshToken,
      accessTokenExpiresAt: tokenExpiry(pair.expiresIn),
    };
    writeLogin(session);
  };

  return {
    url,
    how: 'login',
    client,
    withHeaders: (headers) =>
      createTollgateClient({
        url,
        accessToken: () => session.accessToken,
        fetch: fetchWith(headers),
      }),
    call: async (fn) => {
      let refreshed = false;
      if (Date.parse(session.accessTokenExpiresAt) - refreshMarginMs <= Date.now()) {
        await refresh();
        refreshed = true;
      }
      try {
        return await fn(client);
      } catch (e) {
        if (refreshed || httpStatusOf(e) !== 401) throw e;
        await refresh();
        return fn(client);
      }
    },
  };
}
