import { createTollgateClient } from '@tollgate/client';
import { configFile, readLogin, removeLogin, writeLogin } from '../config-store.ts';
import { CliError, describeError } from '../errors.ts';
import { note, out, printJson } from '../output.ts';
import { askSecret, askText } from '../prompt.ts';
import type { Root } from '../root.ts';
import { callServer, globalOpts } from '../run.ts';
import { connect, normalizeUrl, tokenExpiry } from '../session.ts';

const defaultUrl = 'http://127.0.0.1:3000';

/** A server error as a CliError with the server's code and message. */
function asCliError(e: unknown, url: string): CliError {
  if (e instanceof CliError) return e;
  const { code, message } = describeError(e, url);
  return new CliError(code, message);
}

export function registerAuth(program: Root): void {
  program
    .command('login')
    .description(
      'log in to a Tollgate server (email + password, prompted; or --api-key) and remember it',
    )
    .argument('[url]', `server URL (or --url / TOLLGATE_URL; default ${defaultUrl})`)
    .option('--email <email>', 'account email (prompted when not given)')
    .action(async (urlArg, opts, cmd) => {
      const g = globalOpts(cmd);
      const stored = readLogin();
      const url = normalizeUrl(
        urlArg ??
          g.url ??
          (process.stdin.isTTY
            ? await askText('Server URL', stored?.url ?? defaultUrl)
            : defaultUrl),
      );

      if (g.apiKey) {
        // Check the key before storing it: a typo should fail now, not on the next command.
        const me = await createTollgateClient({ url, apiKey: g.apiKey })
          .auth.me.query({})
          .catch((e: unknown) => {
            throw asCliError(e, url);
          });
        writeLogin({ url, apiKey: g.apiKey });
        out(`logged in to ${url} as ${me.email} (${me.role}) with an API key`);
        return;
      }

      const email = opts.email ?? (await askText('Email'));
      if (!email) throw new CliError('usage', 'an email is needed to log in', 2);
      const password = await askSecret('Password');
      const anonymous = createTollgateClient({ url });
      const pair = await anonymous.auth.login.mutate({ email, password }).catch((e: unknown) => {
        throw asCliError(e, url);
      });
      const session = {
        url,
        email,
        accessToken: pair.accessToken,
        refreshToken: pair.refreshToken,
        accessTokenExpiresAt: tokenExpiry(pair.expiresIn),
      };
      writeLogin(session);
      const me = await createTollgateClient({ url, accessToken: pair.accessToken })
        .auth.me.query({})
        .catch((e: unknown) => {
          throw asCliError(e, url);
        });
      out(`logged in to ${url} as ${me.email} (${me.role})`);
      note(`login saved in ${configFile()}`);
    });

  program
    .command('logout')
    .description('end the stored login (the server revokes its refresh token) and forget it')
    .action(async () => {
      const stored = readLogin();
      if (!stored) {
        note('not logged in');
        return;
      }
      if ('refreshToken' in stored) {
        try {
          // call() refreshes an expired access token first (rotating the refresh token on disk):
          // revoke whichever refresh token is current by then.
          await connect({ url: stored.url }).call((client) => {
            const current = readLogin();
            const refreshToken =
              current && 'refreshToken' in current ? current.refreshToken : stored.refreshToken;
            return client.auth.logout.mutate({ refreshToken });
          });
        } catch (e) {
          // An already revoked or expired session has nothing left to revoke; forgetting the login
          // locally is still what was asked.
          const { code, message } = describeError(e, stored.url);
          note(`the server did not confirm the logout (${code}: ${message})`);
        }
      }
      removeLogin();
      out(`logged out of ${stored.url}`);
    });

  program
    .command('whoami')
    .description('show who the current credentials belong to')
    .option('--json', 'print JSON')
    .action(async (opts, cmd) => {
      const { me, url, how } = await callServer(cmd, async (client, conn) => ({
        me: await client.auth.me.query({}),
        url: conn.url,
        how: conn.how,
      }));
      if (opts.json) printJson({ ...me, url });
      else out(`${me.email} (${me.role}) at ${url}, by ${how}`);
    });
}
