import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTollgateClient } from '@tollgate/client';
import { type FakeUpstream, startFakeUpstream } from '@tollgate/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cli,
  hasTmux,
  inTmux,
  makeCli,
  type Server,
  startServer,
  tollgateBin,
} from './harness.ts';

// The real command (apps/cli/bin/tollgate, as installed) as a child process against the real
// server (apps/server/src/main.js) on its own database. Stdout and stderr are pipes here, so no
// output may carry colour codes.

let server: Server;
let fake: FakeUpstream;
const clis: Cli[] = [];
let admin: Cli;

function newCli(): Cli {
  const c = makeCli();
  clis.push(c);
  return c;
}

type Login = {
  url: string;
  email?: string;
  accessToken?: string;
  refreshToken?: string;
  accessTokenExpiresAt?: string;
  apiKey?: string;
};
const readConfig = (c: Cli) => JSON.parse(readFileSync(c.configFile, 'utf8')) as Login;

/** Logs in through the prompts, answering each one only once it has been asked. */
async function promptLogin(c: Cli, email: string, password: string) {
  const p = c.start(['login', server.url]);
  await p.waitFor(/Email: $/, 'stderr');
  p.proc.stdin?.write(`${email}\n`);
  await p.waitFor(/Password: $/, 'stderr');
  p.proc.stdin?.end(`${password}\n`);
  const { code } = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

async function until<T>(f: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

beforeAll(async () => {
  fake = await startFakeUpstream();
  server = await startServer({ OPENAI_API_KEY: 'sk-fake', OPENAI_BASE_URL: `${fake.url}/v1` });
  admin = newCli();
}, 120_000);

afterAll(async () => {
  for (const c of clis) c.cleanup();
  await server?.stop();
  await fake?.close();
}, 60_000);

describe('tollgate CLI', { timeout: 60_000 }, () => {
  it('prints its version and help on every command, exit 0', async () => {
    const c = newCli();
    const v = await c.run(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);

    const top = await c.run(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of [
      'login',
      'logout',
      'whoami',
      'keys',
      'users',
      'models',
      'budgets',
      'usage',
      'requests',
      'chat',
    ]) {
      expect(top.stdout).toContain(cmd);
    }
    const commands = [
      ['login'],
      ['keys', 'create'],
      ['users', 'update'],
      ['models', 'set'],
      ['requests', 'show'],
      ['chat'],
    ];
    const helps = await Promise.all(commands.map((cmd) => c.run([...cmd, '--help'])));
    for (const [i, h] of helps.entries()) {
      expect(h.code, commands[i]?.join(' ')).toBe(0);
      expect(h.stdout).toContain(`Usage: tollgate ${commands[i]?.join(' ')}`);
    }
    expect(helps.find((h) => h.stdout.includes('tollgate chat'))?.stdout).toMatch(
      /--max-tokens[\s\S]*--temperature/,
    );
  });

  it('runs from any directory through a symlink to the installed command', async () => {
    const c = newCli();
    const binDir = join(c.home, 'bin');
    mkdirSync(binDir);
    symlinkSync(tollgateBin, join(binDir, 'tollgate'));
    const elsewhere = join(c.home, 'somewhere');
    mkdirSync(elsewhere);
    const r = await c.run(['--version'], { command: join(binDir, 'tollgate'), cwd: elsewhere });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('exits 2 on an unknown flag, a missing option or a bad value, before any request', async () => {
    const c = newCli();
    const unknown = await c.run(['keys', 'list', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--bogus'");
    expect(unknown.stdout).toBe('');

    const missing = await c.run(['chat', 'hello']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/required option '-m, --model <model>'/);

    const bad = await c.run(['keys', 'list', '--limit', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected a positive integer');

    const noCommand = await c.run(['nosuchcommand']);
    expect(noCommand.code).toBe(2);
    expect(noCommand.stderr).toContain("unknown command 'nosuchcommand'");
  });

  it('refuses bad credentials with exit 1 and the server code, storing nothing', async () => {
    const c = newCli();
    const r = await promptLogin(c, server.adminEmail, 'not the password');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: invalid_credentials: invalid email or password$/m);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(() => statSync(c.configFile)).toThrow();

    const notLoggedIn = await c.run(['whoami']);
    expect(notLoggedIn.code).toBe(1);
    expect(notLoggedIn.stderr).toMatch(/^error: not_logged_in: /m);
  });

  it('logs in with prompted email and password, storing the login 0600 in the XDG config dir', async () => {
    const r = await promptLogin(admin, server.adminEmail, server.adminPassword);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`logged in to ${server.url} as ${server.adminEmail} (admin)\n`);
    // The password was typed into a pipe: it must not be echoed back.
    expect(r.stderr).not.toContain(server.adminPassword);

    const st = statSync(admin.configFile);
    expect(st.mode & 0o777).toBe(0o600);
    expect(statSync(join(admin.configFile, '..')).mode & 0o777).toBe(0o700);
    const text = readFileSync(admin.configFile, 'utf8');
    expect(text).not.toContain(server.adminPassword);
    expect(JSON.parse(text)).toMatchObject({
      url: server.url,
      email: server.adminEmail,
      refreshToken: expect.any(String),
      accessToken: expect.any(String),
    });

    const who = await admin.run(['whoami']);
    expect(who.code).toBe(0);
    expect(who.stdout).toBe(`${server.adminEmail} (admin) at ${server.url}, by login\n`);
    const me = await admin.json<{ email: string; role: string; id: string }>(['whoami']);
    expect(me).toMatchObject({ email: server.adminEmail, role: 'admin', url: server.url });
  });

  it('reads email and password from piped stdin in one go', async () => {
    const c = newCli();
    const r = await c.run(['login', '--url', server.url], {
      input: `${server.adminEmail}\n${server.adminPassword}\n`,
    });
    expect(r.code, r.stderr).toBe(0);
    expect((await c.json<{ email: string }>(['whoami'])).email).toBe(server.adminEmail);
  });

  it('refreshes an expired access token with the refresh token, and after a refused one', async () => {
    const before = readConfig(admin);
    writeFileSync(
      admin.configFile,
      JSON.stringify({
        ...before,
        accessTokenExpiresAt: new Date(Date.now() - 1000).toISOString(),
      }),
    );
    const r = await admin.run(['whoami']);
    expect(r.code, r.stderr).toBe(0);
    const afterExpiry = readConfig(admin);
    expect(afterExpiry.refreshToken).not.toBe(before.refreshToken);
    expect(afterExpiry.accessToken).not.toBe(before.accessToken);
    expect(Date.parse(afterExpiry.accessTokenExpiresAt as string)).toBeGreaterThan(Date.now());
    expect(statSync(admin.configFile).mode & 0o777).toBe(0o600);

    // A token the server refuses (401) although it looks unexpired: refresh once, then retry.
    writeFileSync(admin.configFile, JSON.stringify({ ...afterExpiry, accessToken: 'garbage' }));
    const again = await admin.json<{ email: string }>(['whoami']);
    expect(again.email).toBe(server.adminEmail);
    expect(readConfig(admin).refreshToken).not.toBe(afterExpiry.refreshToken);
  });

  it('creates, lists and revokes API keys; TOLLGATE_URL + TOLLGATE_API_KEY override the login', async () => {
    const created = await admin.run([
      'keys',
      'create',
      '--name',
      'ci-key',
      '--scope',
      'gateway',
      'read',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^tg_\S+$/);
    expect(created.stderr).toContain('shown once');

    const page = await admin.json<{
      items: {
        id: string;
        name: string;
        prefix: string;
        scopes: string[];
        revokedAt: string | null;
      }[];
    }>(['keys', 'list']);
    const key = page.items.find((k) => k.name === 'ci-key');
    expect(key).toMatchObject({ scopes: ['gateway', 'read'], revokedAt: null });
    expect(secret.startsWith(key?.prefix as string)).toBe(true);

    const table = await admin.run(['keys', 'list']);
    expect(table.stdout.split('\n')[0]).toBe(
      'id\tname\tprefix\tscopes\texpires\tlast used\trevoked\tcreated',
    );
    expect(table.stdout).toContain(`${key?.id}\tci-key\t`);

    // Someone with no login at all: the key through the environment.
    const script = newCli();
    const env = { TOLLGATE_URL: server.url, TOLLGATE_API_KEY: secret };
    const viaKey = await script.run(['whoami'], { env });
    expect(viaKey.code, viaKey.stderr).toBe(0);
    expect(viaKey.stdout).toBe(`${server.adminEmail} (admin) at ${server.url}, by api key\n`);

    const revoked = await admin.run(['keys', 'revoke', key?.id as string]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('revoked key "ci-key"');
    const listed = await admin.json<{ items: { id: string; revokedAt: string | null }[] }>([
      'keys',
      'list',
    ]);
    expect(listed.items.find((k) => k.id === key?.id)?.revokedAt).toEqual(expect.any(String));

    const refused = await until(async () => {
      const r = await script.run(['whoami'], { env });
      return r.code === 1 ? r : undefined;
    }, 'the revoked key to be refused');
    expect(refused.stderr).toMatch(/^error: key_revoked: /m);
  });

  it('never sends the stored login to another --url', async () => {
    const r = await admin.run(['whoami', '--url', 'http://127.0.0.1:9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: not_logged_in: not logged in to http:\/\/127\.0\.0\.1:9/m);

    const unreachable = await admin.run([
      'whoami',
      '--url',
      'http://127.0.0.1:9',
      '--api-key',
      'tg_x',
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(
      /^error: unreachable: cannot reach http:\/\/127\.0\.0\.1:9/m,
    );
  });

  it("manages users (admin) and shows a member the server's refusal", async () => {
    const email = 'member@cli.test';
    const password = 'member password 123';
    const created = await admin.json<{ id: string; email: string; role: string }>(
      ['users', 'create', '--email', email, '--password-stdin'],
      { input: `${password}\n` },
    );
    expect(created).toMatchObject({ email, role: 'member' });

    const listed = await admin.json<{ items: { id: string; email: string }[] }>(['users', 'list']);
    expect(listed.items.map((u) => u.email)).toContain(email);

    const generated = await admin.run(['users', 'create', '--email', 'gen@cli.test']);
    expect(generated.code).toBe(0);
    expect(generated.stdout).toMatch(/^created member gen@cli\.test/);
    expect(generated.stderr).toContain('generated password, shown once');

    const member = newCli();
    const login = await promptLogin(member, email, password);
    expect(login.code, login.stderr).toBe(0);
    const forbidden = await member.run(['users', 'list']);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(/^error: FORBIDDEN: admin only$/m);

    const bad = await admin.run(['users', 'create', '--email', 'not-an-email']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: BAD_REQUEST: email: /m);

    const disabled = await admin.json<{ disabled: boolean }>([
      'users',
      'update',
      created.id,
      '--disable',
    ]);
    expect(disabled.disabled).toBe(true);
    const refused = await until(async () => {
      const r = await member.run(['whoami']);
      return r.code === 1 ? r : undefined;
    }, 'the disabled member to be refused');
    expect(refused.stderr).toMatch(/^error: \S+: /m);

    const nothing = await admin.run(['users', 'update', created.id]);
    expect(nothing.code).toBe(2);
  });

  it('sets, changes, lists and removes catalog entries', async () => {
    const set = await admin.json<{ name: string; inputPricePerMTok: string }>([
      'models',
      'set',
      'cli-echo',
      '--provider',
      'mock',
      '--upstream',
      'mock-echo',
      '--input-price',
      '0.5',
      '--output-price',
      '1.25',
      '--alias',
      'cli-alias',
    ]);
    expect(set).toMatchObject({ name: 'cli-echo', inputPricePerMTok: '0.5' });

    // Changing one field keeps the others.
    const changed = await admin.json<Record<string, unknown>>([
      'models',
      'set',
      'cli-echo',
      '--disable',
    ]);
    expect(changed).toMatchObject({
      enabled: false,
      provider: 'mock',
      upstreamModel: 'mock-echo',
      outputPricePerMTok: '1.25',
      aliases: ['cli-alias'],
    });
    const refused = await admin.run(['chat', '-m', 'cli-echo', 'hi']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: model_not_found: /m);

    const listed = await admin.json<{ items: { name: string; enabled: boolean }[] }>([
      'models',
      'list',
    ]);
    expect(listed.items.find((m) => m.name === 'cli-echo')?.enabled).toBe(false);

    const rm = await admin.run(['models', 'rm', 'cli-echo']);
    expect(rm.code).toBe(0);
    const after = await admin.json<{ items: { name: string }[] }>(['models', 'list']);
    expect(after.items.map((m) => m.name)).not.toContain('cli-echo');

    const incomplete = await admin.run(['models', 'set', 'brand-new']);
    expect(incomplete.code).toBe(2);
    expect(incomplete.stderr).toContain('give --provider and --upstream');
  });

  it('streams a chat: tokens arrive before the stream ends', async () => {
    const words = 'one two three four five six seven eight nine ten';
    const p = admin.start(['chat', '-m', 'mock-slow', ...words.split(' ')]);
    const { code } = await p.exited;
    expect(code, p.stderr()).toBe(0);
    expect(p.stdout()).toBe(`${words}\n`);
    // mock-slow sends a word every 50 ms: the first write held only the start of the answer.
    expect(p.chunks.length).toBeGreaterThan(1);
    expect(p.chunks[0]?.length).toBeLessThan(words.length);
    expect(words.startsWith(p.chunks[0] as string)).toBe(true);
    expect(p.stdout() + p.stderr()).not.toContain('\x1b[');
  });

  it('takes the prompt from stdin with --system, --max-tokens and --temperature', async () => {
    const r = await admin.run(
      [
        'chat',
        '-m',
        'mock-echo',
        '--system',
        'be brief',
        '--max-tokens',
        '50',
        '--temperature',
        '0.5',
      ],
      { input: 'a prompt from stdin\n' },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('a prompt from stdin\n');

    const row = await until(async () => {
      const page = await admin.json<{ items: { requestId: string; model: string }[] }>([
        'requests',
        'list',
        '--model',
        'mock-echo',
        '--limit',
        '1',
      ]);
      return page.items[0];
    }, 'the request log row');
    const shown = await admin.json<{ bodies: { request: unknown } }>([
      'requests',
      'show',
      row.requestId,
    ]);
    expect(shown.bodies.request).toMatchObject({
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'a prompt from stdin' },
      ],
      max_tokens: 50,
      temperature: 0.5,
    });
    const human = await admin.run(['requests', 'show', row.requestId]);
    expect(human.stdout).toMatch(/^model:\s+mock-echo \(mock\/mock-echo\)$/m);

    const empty = await admin.run(['chat', '-m', 'mock-echo'], { input: '' });
    expect(empty.code).toBe(2);
  });

  it('prints what streamed, then the in-band error on stderr with exit 1, when a stream breaks', async () => {
    const set = await admin.run([
      'models',
      'set',
      'fake-cut',
      '--provider',
      'openai',
      '--upstream',
      'gpt-fake',
      '--input-price',
      '1',
      '--output-price',
      '2',
    ]);
    expect(set.code, set.stderr).toBe(0);
    fake.script('POST /v1/chat/completions', [
      { stream: ['alpha ', 'beta ', 'gamma '], dropAfter: 2 },
    ]);
    const r = await admin.run(['chat', '-m', 'fake-cut', 'hi']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('alpha beta \n');
    expect(r.stderr).toMatch(/^error: upstream_error: /m);
    expect(fake.requests('POST /v1/chat/completions')).toHaveLength(1);
  });

  it('Ctrl-C stops a streaming chat cleanly and the call is logged as aborted', async () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`);
    const p = admin.start(['chat', '-m', 'mock-slow', ...words]);
    await p.waitFor(/w0 /);
    p.proc.kill('SIGINT');
    const { code } = await p.exited;
    expect(code).toBe(130);
    expect(p.stderr()).toBe('cancelled\n');
    expect(p.stdout()).toMatch(/^w0 .*\n$/);
    expect(p.stdout().length).toBeLessThan(words.join(' ').length);

    const aborted = await until(async () => {
      const page = await admin.json<{ items: { model: string }[] }>([
        'requests',
        'list',
        '--model',
        'mock-slow',
        '--status',
        'aborted',
      ]);
      return page.items[0];
    }, 'an aborted row');
    expect(aborted.model).toBe('mock-slow');
  });

  it("sets and lists budgets; a key over its budget gets the server's refusal", async () => {
    const key = (await admin.run(['keys', 'create', '--name', 'budgeted'])).stdout.trim();
    const keys = await admin.json<{ items: { id: string; name: string }[] }>(['keys', 'list']);
    const keyId = keys.items.find((k) => k.name === 'budgeted')?.id as string;

    const set = await admin.json<{ scope: string; targetId: string; amountUsd: string }>([
      'budgets',
      'set',
      '--key',
      keyId,
      '--period',
      'day',
      '--amount',
      '0',
    ]);
    expect(set).toMatchObject({ scope: 'key', targetId: keyId, amountUsd: '0' });
    const listed = await admin.json<{
      items: { targetId: string; period: string; remainingUsd: string }[];
    }>(['budgets', 'list']);
    expect(listed.items.find((b) => b.targetId === keyId)).toMatchObject({
      period: 'day',
      remainingUsd: '0',
    });

    const refused = await newCli().run(['chat', '-m', 'mock-echo', 'hi'], {
      env: { TOLLGATE_URL: server.url, TOLLGATE_API_KEY: key },
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: budget_exceeded: /m);

    const two = await admin.run([
      'budgets',
      'set',
      '--key',
      keyId,
      '--user',
      keyId,
      '--period',
      'day',
      '--amount',
      '1',
    ]);
    expect(two.code).toBe(2);
  });

  it("shows usage as a table, JSON or the server's CSV", async () => {
    const summary = await admin.json<{
      items: { group: string; requests: number; costUsd: string }[];
    }>(['usage', '--group-by', 'model']);
    const echo = summary.items.find((i) => i.group === 'mock-echo');
    expect(echo?.requests).toBeGreaterThan(0);

    const csv = await admin.run(['usage', '--group-by', 'model', '--csv']);
    expect(csv.code, csv.stderr).toBe(0);
    const [header, ...rows] = csv.stdout.trim().split(/\r?\n/); // RFC 4180 lines end CRLF
    expect(header).toBe(
      'group,requests,errors,rejected,cacheHits,inputTokens,cachedInputTokens,outputTokens,reasoningTokens,costUsd,unpricedRequests',
    );
    const echoRow = rows.find((r) => r.startsWith('mock-echo,'))?.split(',');
    expect(echoRow?.[1]).toBe(String(echo?.requests));
    expect(echoRow?.[9]).toBe(echo?.costUsd);

    const table = await admin.run(['usage', '--group-by', 'model']);
    expect(table.stdout.split('\n')[0]).toBe(
      'model\trequests\terrors\trejected\tcache hits\ttokens in\ttokens out\tcost $',
    );
    expect(table.stdout).toMatch(/^total\t\d+\t/m);

    const badTz = await admin.run(['usage', '--tz', 'Nowhere/Else']);
    expect(badTz.code).toBe(2);
  });

  it('submits a JSONL batch, watches it to completion, and streams its results', async () => {
    const file = join(admin.home, 'items.jsonl');
    const prompts = ['first', 'second', 'third'];
    writeFileSync(
      file,
      `${prompts
        .map((p, i) =>
          JSON.stringify({
            customId: `c${i}`,
            model: 'mock-echo',
            messages: [{ role: 'user', content: p }],
          }),
        )
        .join('\n')}\n\n`,
    );
    const r = await admin.run([
      'batch',
      'submit',
      file,
      '--idempotency-key',
      'cli-k1',
      '--watch',
      '--interval',
      '200',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.match(/^id:\s+(\S+)$/m)?.[1] as string;
    expect(id).toBeDefined();
    expect(r.stdout).toMatch(/^status:\s+completed$/m);
    // Not a terminal: plain progress lines, the last one complete.
    expect(r.stderr).toMatch(
      new RegExp(`^batch ${id} completed: 3/3 done \\(3 succeeded, 0 failed\\)`, 'm'),
    );
    expect(r.stderr + r.stdout).not.toContain('\x1b[');

    const again = await admin.json<{ id: string }>([
      'batch',
      'submit',
      file,
      '--idempotency-key',
      'cli-k1',
    ]);
    expect(again.id).toBe(id);

    const results = await admin.run(['batch', 'results', id]);
    expect(results.code, results.stderr).toBe(0);
    const lines = results.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.index, l.customId, l.status, l.response?.content])).toEqual(
      prompts.map((p, i) => [i, `c${i}`, 'succeeded', p]),
    );
    const out = join(admin.home, 'out.jsonl');
    const toFile = await admin.run(['batch', 'results', id, '-o', out]);
    expect(toFile.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(results.stdout);

    const listed = await admin.json<{ items: { id: string; status: string }[] }>(['batch', 'list']);
    expect(listed.items.find((b) => b.id === id)?.status).toBe('completed');
    const status = await admin.json<{ counts: { succeeded: number } }>(['batch', 'status', id]);
    expect(status.counts.succeeded).toBe(3);

    writeFileSync(join(admin.home, 'bad.jsonl'), '{"model":"mock-echo","messages":[]}\n{nope\n');
    const bad = await admin.run(['batch', 'submit', join(admin.home, 'bad.jsonl')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: bad_file: .*line 2: not valid JSON/m);
  });

  it('logs out: the server revokes the refresh token and the login is forgotten', async () => {
    const c = newCli();
    expect((await promptLogin(c, server.adminEmail, server.adminPassword)).code).toBe(0);
    const { refreshToken } = readConfig(c);
    const r = await c.run(['logout']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`logged out of ${server.url}\n`);
    expect(() => statSync(c.configFile)).toThrow();
    await expect(
      createTollgateClient({ url: server.url }).auth.refresh.mutate({
        refreshToken: refreshToken as string,
      }),
    ).rejects.toMatchObject({ data: { httpStatus: 401 } });
    const who = await c.run(['whoami']);
    expect(who.code).toBe(1);
  });

  it('stores an API key login after checking it', async () => {
    const c = newCli();
    const bad = await c.run(['login', server.url, '--api-key', 'tg_not_a_real_key']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: \w+: /m);
    expect(() => statSync(c.configFile)).toThrow();

    const ok = await c.run(['login', server.url, '--api-key', server.adminKey]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(readConfig(c)).toEqual({ url: server.url, apiKey: server.adminKey });
    expect(statSync(c.configFile).mode & 0o777).toBe(0o600);
    expect((await c.run(['whoami'])).stdout).toContain('by api key');
  });
});

describe.skipIf(!hasTmux())('tollgate CLI on a terminal (tmux)', { timeout: 60_000 }, () => {
  it('masks the typed password; colours on a terminal, none with NO_COLOR', async () => {
    const c = newCli();
    const login = inTmux([tollgateBin, 'login', server.url], c.env());
    try {
      await login.waitFor(/Email/);
      login.type('-l', server.adminEmail);
      login.type('Enter');
      await login.waitFor(/Password/);
      login.type('-l', server.adminPassword);
      login.type('Enter');
      const screen = await login.waitFor(/EXIT=\d+/);
      expect(screen).toContain('EXIT=0');
      expect(screen).toContain(`logged in to ${server.url} as ${server.adminEmail} (admin)`);
      expect(screen).not.toContain(server.adminPassword);
    } finally {
      login.kill();
    }

    const coloured = inTmux([tollgateBin, 'keys', 'list'], c.env());
    try {
      const screen = await coloured.waitFor(/EXIT=0/, true);
      expect(screen).toContain('┌'); // a drawn table, not tab-separated lines
      expect(screen).toContain('\x1b[1mid'); // bold header
    } finally {
      coloured.kill();
    }

    const plain = inTmux([tollgateBin, 'keys', 'list'], c.env({ NO_COLOR: '1' }));
    try {
      const screen = await plain.waitFor(/EXIT=0/, true);
      expect(screen).toContain('┌');
      expect(screen).not.toContain('\x1b[');
    } finally {
      plain.kill();
    }
  });

  it('draws a live progress bar for batch --watch and redraws it in place', async () => {
    const file = join(admin.home, 'staggered.jsonl');
    // mock-slow streams a word every 50 ms: items of different lengths end at different times.
    const items = Array.from({ length: 10 }, (_, i) => ({
      model: 'mock-slow',
      messages: [
        { role: 'user', content: Array.from({ length: 4 * (i + 1) }, () => 'w').join(' ') },
      ],
    }));
    writeFileSync(file, `${items.map((i) => JSON.stringify(i)).join('\n')}\n`);
    const watch = inTmux(
      [tollgateBin, 'batch', 'submit', file, '--watch', '--interval', '150'],
      admin.env(),
      { x: 160, y: 40 },
    );
    try {
      const states = new Set<string>();
      let screen = '';
      const deadline = Date.now() + 45_000;
      while (!/EXIT=\d+/.test(screen) && Date.now() < deadline) {
        screen = watch.screen();
        const bars = screen.split('\n').filter((l) => /\d+% \| \d+\/10 done/.test(l));
        // Redrawn in place: never more than one bar line on the screen.
        expect(bars.length).toBeLessThanOrEqual(1);
        if (bars[0]) states.add(bars[0].trim());
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(screen).toContain('EXIT=0');
      expect(screen).toMatch(/100% \| 10\/10 done \(10 ok, 0 failed\)/);
      expect(screen).toMatch(/^status:\s+completed$/m);
      // The same line showed more than one state: the bar was redrawn as items finished.
      expect(states.size).toBeGreaterThan(1);
    } finally {
      watch.kill();
    }
  });
});
