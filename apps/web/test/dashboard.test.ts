import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The dashboard in Debian's Chromium against a real `pnpm start` server process (built files at
 * /, cookie session, real Postgres): one browser for the whole file, one page per viewport.
 */
const webRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const repoRoot = resolve(webRoot, '../..');
const artifacts = join(webRoot, 'test-artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);
const nodeBin = existsSync(join(repoRoot, 'node_modules/.bin/node'))
  ? join(repoRoot, 'node_modules/.bin/node')
  : process.execPath;

const admin = { email: 'admin@dashboard.test', password: 'dashboard-test-password' };

let testDb: TestDb;
let home: string;
let server: ChildProcess;
let base: string;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

async function startServer(): Promise<string> {
  // With its worker: the batch steps need one.
  server = spawn(nodeBin, [join(repoRoot, 'apps/server/src/main.js')], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      DATABASE_URL: testDb.url,
      TOLLGATE_HOME: home,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      TOLLGATE_ADMIN_EMAIL: admin.email,
      TOLLGATE_ADMIN_PASSWORD: admin.password,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  server.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start\n${out}\n${err}`)), 60_000);
    server.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m?.[1]) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
    server.once('exit', (code) => rej(new Error(`server exited ${code}\n${out}\n${err}`)));
  });
}

/** The dashboard as the sources are now: a dist older than them was built from other code. */
async function ensureBuilt(): Promise<void> {
  const build = spawn(process.execPath, [join(webRoot, 'scripts/build.ts'), '--if-stale'], {
    stdio: 'inherit',
  });
  const code = await new Promise<number | null>((r) => build.once('exit', r));
  if (code !== 0) throw new Error(`dashboard build failed (exit ${code})`);
}

/** axe-core on the current page: no violations (evaluated over CDP, so the page's CSP holds). */
async function expectAccessible(p: Page, name: string): Promise<void> {
  await p.evaluate(axeSource);
  const result = await p.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is injected above
    const r = await (window as any).axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map(
      (v: { id: string; impact: string; nodes: { target: string[] }[] }) =>
        `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    ) as string[];
  });
  expect(result, `axe violations on ${name}`).toEqual([]);
}

async function shoot(p: Page, name: string): Promise<void> {
  const width = p.viewportSize()?.width ?? 0;
  await p.screenshot({ path: join(artifacts, `${name}-${width}.png`), fullPage: true });
}

async function heading(p: Page, text: string): Promise<void> {
  await p.getByRole('heading', { level: 1, name: text }).waitFor();
}

async function openPage(browserPage: Page, path: string, title: string): Promise<void> {
  await browserPage.goto(`${base}${path}`);
  await heading(browserPage, title);
}

async function newPage(width: number, height: number): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const p = await context.newPage();
  p.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${width}px: ${m.text()}`);
  });
  p.on('pageerror', (e) => consoleErrors.push(`${width}px: ${e.message}`));
  return p;
}

async function logIn(p: Page): Promise<void> {
  await p.goto(base);
  await p.getByLabel('Email').fill(admin.email);
  await p.getByLabel('Password').fill(admin.password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await heading(p, 'Overview');
}

async function chat(key: string, content: string): Promise<void> {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-echo', messages: [{ role: 'user', content }] }),
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  home = mkdtempSync(join(tmpdir(), 'tollgate-web-test-'));
  testDb = await createTestDb();
  [base] = await Promise.all([startServer(), ensureBuilt()]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  page = await newPage(1280, 900);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGINT');
    await exited;
  }
  await testDb?.drop();
  if (home) rmSync(home, { recursive: true, force: true });
});

// A shared 2-core machine runs several suites at once: browser steps get room.
describe('the dashboard in a real browser', { timeout: 120_000 }, () => {
  let secret = '';

  it('serves the page at / under a strict CSP', async () => {
    const res = await fetch(base, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe');
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
  });

  it('logs in; the login page and the overview are accessible', async () => {
    await page.goto(base);
    await page.getByRole('heading', { name: 'Sign in to Tollgate' }).waitFor();
    await expectAccessible(page, 'login');
    await shoot(page, 'login');
    await logIn(page);
    await page.getByTestId('who').getByText(admin.email, { exact: false }).waitFor();
  });

  it('creates a key, shows the secret once and copies it', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await heading(page, 'API keys');
    await page.getByLabel('Name', { exact: true }).fill('browser key');
    await page.getByRole('button', { name: 'Create key' }).click();
    const field = page.getByLabel('Secret');
    await field.waitFor();
    secret = await field.inputValue();
    expect(secret).toMatch(/^tg_[A-Za-z0-9_-]{43}$/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await expect(
      page.getByRole('cell', { name: 'browser key', exact: true }).count(),
    ).resolves.toBe(1);
    await expectAccessible(page, 'keys');
    await shoot(page, 'keys');
    await page.getByRole('button', { name: 'Done' }).click();
    await expect(page.getByLabel('Secret').count()).resolves.toBe(0); // shown once
  });

  it('a call made with the key shows up in the log, its detail (bodies) and the overview', async () => {
    await chat(secret, 'hello from the browser test');
    await page.getByRole('link', { name: 'Requests', exact: true }).click();
    await heading(page, 'Requests');
    const row = page.getByRole('row').filter({ hasText: 'browser key' });
    // The request log is written after the response, about once a second.
    await expect
      .poll(
        async () => {
          await page.reload();
          await heading(page, 'Requests');
          return row.count();
        },
        { timeout: 15_000, interval: 500 },
      )
      .toBe(1);
    await expect(row.textContent()).resolves.toContain('mock-echo');
    await expectAccessible(page, 'requests');
    await shoot(page, 'requests');

    // Filters: a status that matches nothing, then back.
    await page.getByLabel('Status').selectOption('error');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No requests match.').waitFor();
    await page.getByLabel('Status').selectOption('ok');
    await page.getByLabel('Model').fill('mock-echo');
    await page
      .getByLabel('Key', { exact: true })
      .selectOption({ label: `browser key (${secret.slice(0, 9)}…)` });
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await row.waitFor();

    await row.getByRole('link').click();
    await heading(page, 'Request');
    await page.getByRole('heading', { name: 'Request body' }).waitFor();
    await expect(page.locator('pre.body').first().textContent()).resolves.toContain(
      'hello from the browser test',
    );
    await expectAccessible(page, 'request detail');
    await shoot(page, 'request-detail');

    await page.getByRole('link', { name: 'Overview' }).click();
    await heading(page, 'Overview');
    const totals = page.getByLabel('Totals');
    await expect(totals.getByText('Requests').locator('..').textContent()).resolves.toMatch(
      /Requests1$/,
    );
    await page.getByRole('table', { name: 'Top keys' }).getByText('browser key').waitFor();
    await page.getByRole('table', { name: 'Top models' }).getByText('mock-echo').waitFor();
    await expect(page.locator('figure.chart svg').count()).resolves.toBeGreaterThanOrEqual(4);
    await page.getByLabel('Range', { exact: true }).selectOption('7d');
    await page.getByLabel('Time zone').selectOption('America/New_York');
    await page.getByRole('table', { name: 'Top keys' }).getByText('browser key').waitFor();
    await expectAccessible(page, 'overview');
    await shoot(page, 'overview');
  });

  it('the live tail (subscription) shows new calls as they happen', async () => {
    await page.getByRole('link', { name: 'Live tail' }).click();
    await heading(page, 'Live tail');
    await page
      .getByRole('status')
      .getByText(/^Live:/)
      .waitFor();
    const rows = page.getByRole('row').filter({ hasText: 'browser key' });
    const before = await rows.count();
    await chat(secret, 'tail me');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(before + 1);
    await expectAccessible(page, 'live tail');
    await shoot(page, 'live-tail');
  });

  it('usage: range, group-by, time zone, table, chart and CSV download', async () => {
    await page.getByRole('link', { name: 'Usage' }).click();
    await heading(page, 'Usage');
    await page.getByLabel('Group by').selectOption('key');
    await page.getByLabel('Time zone').selectOption('America/New_York');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByRole('region', { name: 'Usage' }).getByText('browser key').waitFor();
    await expect(page.locator('figure.chart svg').count()).resolves.toBeGreaterThanOrEqual(1);
    const [file] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    const path = await file.path();
    expect(readFileSync(path, 'utf8').split('\n')[0]).toMatch(/^group,/);
    await expectAccessible(page, 'usage');
    await shoot(page, 'usage');
  });

  it('budgets: an admin sets one on the key; it is listed with what is left', async () => {
    await page.getByRole('link', { name: 'Budgets' }).click();
    await heading(page, 'Budgets');
    await page
      .getByLabel('Key', { exact: true })
      .selectOption({ label: `browser key (${secret.slice(0, 9)}…)` });
    await page.getByLabel('Amount (USD)').fill('5');
    await page.getByRole('button', { name: 'Set budget' }).click();
    await page.getByRole('region', { name: 'Budgets' }).getByText('browser key').waitFor();
    await expectAccessible(page, 'budgets');
    await shoot(page, 'budgets');
  });

  it('batches: a batch made with the key finishes with live progress; results download', async () => {
    const res = await fetch(`${base}/api/batches`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${secret}`,
        'content-type': 'application/json',
        'idempotency-key': 'browser-test-batch',
      },
      body: JSON.stringify({
        items: ['one', 'two', 'three'].map((content) => ({
          model: 'mock-echo',
          messages: [{ role: 'user', content }],
        })),
      }),
    });
    expect(res.status).toBe(200);
    await page.getByRole('link', { name: 'Batches' }).click();
    await heading(page, 'Batches');
    const row = page.getByRole('row').filter({ hasText: '3 / 3' });
    await row.getByText('completed').waitFor({ timeout: 60_000 });
    const [file] = await Promise.all([
      page.waitForEvent('download'),
      row.getByRole('button', { name: /Download results/ }).click(),
    ]);
    const lines = readFileSync(await file.path(), 'utf8')
      .trim()
      .split('\n');
    expect(lines.map((l) => JSON.parse(l).status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    await expectAccessible(page, 'batches');
    await shoot(page, 'batches');
  });

  it('admin pages: users and the model catalog with prices', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    await heading(page, 'Users');
    await page.getByRole('cell', { name: admin.email, exact: true }).waitFor();
    await page.getByLabel('Email').fill('member@dashboard.test');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByText('Password for member@dashboard.test').waitFor();
    await expectAccessible(page, 'users');
    await shoot(page, 'users');

    await page.getByRole('link', { name: 'Models' }).click();
    await heading(page, 'Model catalog');
    const echo = page.getByRole('row').filter({ hasText: 'mock-echo' });
    // PRODUCT: the mock models cost $1 per M input and $2 per M output tokens.
    await echo.getByRole('cell', { name: '1', exact: true }).waitFor();
    await echo.getByRole('cell', { name: '2', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Edit mock-slow' }).click();
    await page.getByLabel('Input $ per M tokens').fill('3.5');
    await page.getByRole('button', { name: 'Save model' }).click();
    await expect
      .poll(() => page.getByRole('row').filter({ hasText: 'mock-slow' }).textContent())
      .toContain('3.5');
    await expectAccessible(page, 'models');
    await shoot(page, 'models');
  });

  it('a reload keeps the session (refresh cookie); no token is stored where scripts can read it', async () => {
    await page.reload();
    await heading(page, 'Model catalog');
    const stored = await page.evaluate(() => ({
      local: Object.keys(localStorage).length,
      session: Object.keys(sessionStorage).length,
      cookie: document.cookie,
    }));
    expect(stored).toEqual({ local: 0, session: 0, cookie: '' });
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite, c.path])).toEqual([
      ['tollgate_refresh', true, 'Strict', '/auth/session'],
    ]);
  });

  it('refreshes silently before the access token expires (browser clock moved 14 minutes)', async () => {
    const p = await newPage(1280, 900);
    await p.clock.install();
    await logIn(p);
    const cookie = async () =>
      (await p.context().cookies()).find((c) => c.name === 'tollgate_refresh')?.value;
    const first = await cookie();
    expect(first).toMatch(/^rt_/);
    await p.clock.fastForward('14:01'); // the 15-minute token is renewed a minute before expiry
    await expect.poll(cookie, { timeout: 10_000 }).not.toBe(first);
    await p.getByRole('link', { name: 'API keys' }).click();
    await p.getByRole('cell', { name: 'browser key', exact: true }).waitFor();
    await p.context().close();
  });

  it('revokes the key; the key is refused afterwards', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await heading(page, 'API keys');
    await page.getByRole('button', { name: 'Revoke browser key' }).click();
    await page.getByRole('button', { name: 'Confirm revoke browser key' }).click();
    await page.getByRole('row').filter({ hasText: 'browser key' }).getByText('revoked').waitFor();
    const res = await fetch(`${base}/v1/models`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(res.status).toBe(401);
  });

  it('at 390 px every page is usable (keyboard too) and accessible', async () => {
    const narrow = await newPage(390, 844);
    // Keyboard only: Tab to the email field (focus visible), type, Tab, type, Enter.
    await narrow.goto(base);
    await narrow.getByRole('heading', { name: 'Sign in to Tollgate' }).waitFor();
    await shoot(narrow, 'login');
    await narrow.keyboard.press('Tab');
    const focused = await narrow.evaluate(() => {
      const e = document.activeElement as HTMLElement;
      return { name: e.getAttribute('name'), outline: getComputedStyle(e).outlineStyle };
    });
    expect(focused.name).toBe('email');
    expect(focused.outline).not.toBe('none');
    await narrow.keyboard.type(admin.email);
    await narrow.keyboard.press('Tab');
    await narrow.keyboard.type(admin.password);
    await narrow.keyboard.press('Enter');
    await heading(narrow, 'Overview');
    await narrow.getByLabel('Totals').waitFor();
    await shoot(narrow, 'overview');
    await expectAccessible(narrow, 'overview 390');
    for (const [path, title, name] of [
      ['/requests', 'Requests', 'requests'],
      ['/requests/live', 'Live tail', 'live-tail'],
      ['/usage', 'Usage', 'usage'],
      ['/budgets', 'Budgets', 'budgets'],
      ['/batches', 'Batches', 'batches'],
      ['/keys', 'API keys', 'keys'],
      ['/admin/users', 'Users', 'users'],
      ['/admin/models', 'Model catalog', 'models'],
    ] as const) {
      await openPage(narrow, path, title);
      await expectAccessible(narrow, `${name} 390`);
      // Nothing wider than the screen but the tables' own scrolling regions.
      const overflowing = await narrow.evaluate(() => {
        const width = document.documentElement.clientWidth;
        if (document.documentElement.scrollWidth <= width) return [];
        return [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > width && !e.closest('.table-wrap'))
          .map((e) => `${e.tagName.toLowerCase()}.${e.className}`)
          .slice(0, 5);
      });
      expect(overflowing, `${name} scrolls sideways at 390 px`).toEqual([]);
      await shoot(narrow, name);
    }
    await openPage(narrow, '/requests', 'Requests');
    await narrow.getByRole('row').nth(1).getByRole('link').click();
    await heading(narrow, 'Request');
    await narrow.getByRole('heading', { name: 'Request body' }).waitFor();
    await expectAccessible(narrow, 'request detail 390');
    await shoot(narrow, 'request-detail');
    await narrow.context().close();
  });

  it('logs out; a reload then stays logged out', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Tollgate' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in to Tollgate' }).waitFor();
    expect(await page.context().cookies()).toEqual([]);
  });

  it('wrote no console errors (CSP violations included)', () => {
    expect(consoleErrors).toEqual([]);
  });
});
