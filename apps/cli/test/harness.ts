import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDb, type ProcessOutput, type TestDb, watchOutput } from '@tollgate/test-kit';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
/** The installed command: the sh wrapper that runs src/main.ts on the repo's Node 24. */
export const tollgateBin = join(repoRoot, 'apps/cli/bin/tollgate');
const nodeBin = existsSync(join(repoRoot, 'node_modules/.bin/node'))
  ? join(repoRoot, 'node_modules/.bin/node')
  : process.execPath;

export type Proc = ProcessOutput & { proc: ChildProcess };

function track(proc: ChildProcess): Proc {
  return { proc, ...watchOutput(proc, { settledOn: 'close', timeoutMs: 30_000 }) };
}

export type Server = {
  url: string;
  adminEmail: string;
  adminPassword: string;
  adminKey: string;
  stop: () => Promise<void>;
};

/**
 * The real server, as `pnpm start` runs it (apps/server/src/main.js), on a fresh clone of the
 * test template database, with a known first admin.
 */
export async function startServer(env: Record<string, string> = {}): Promise<Server> {
  const testDb: TestDb = await createTestDb();
  const home = mkdtempSync(join(tmpdir(), 'tollgate-cli-server-'));
  const adminEmail = 'admin@cli.test';
  const adminPassword = 'correct horse battery staple';
  const proc = spawn(nodeBin, [join(repoRoot, 'apps/server/src/main.js')], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      DATABASE_URL: testDb.url,
      TOLLGATE_HOME: home,
      PORT: '0',
      LOG_LEVEL: 'warn',
      TOLLGATE_ADMIN_EMAIL: adminEmail,
      TOLLGATE_ADMIN_PASSWORD: adminPassword,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = track(proc);
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await server.exited;
    }
    await testDb.drop();
    rmSync(home, { recursive: true, force: true });
  };
  try {
    const url = (
      await server.waitFor(/^listening on (http:\/\/\S+)$/m, 'stdout', 60_000)
    )[1] as string;
    const adminKey = (server.stdout().match(/^admin api key: (tg_\S+)$/m) ?? [])[1] as string;
    return { url, adminEmail, adminPassword, adminKey, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export type CliRun = {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
};

export type CliOptions = {
  /** A config home of its own (XDG_CONFIG_HOME); default: the Cli's. */
  env?: Record<string, string>;
  input?: string;
  cwd?: string;
  command?: string;
};

/** One user's environment: its own HOME and XDG config dir, so logins never mix. */
export function makeCli() {
  const home = mkdtempSync(join(tmpdir(), 'tollgate-cli-home-'));
  const configHome = join(home, 'config');
  const env = (extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH ?? '',
    HOME: home,
    XDG_CONFIG_HOME: configHome,
    ...extra,
  });
  /** Starts `tollgate …` as a child process, stdin piped. */
  const start = (args: string[], opts: CliOptions = {}): Proc => {
    const proc = spawn(opts.command ?? tollgateBin, args, {
      cwd: opts.cwd ?? home,
      env: env(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const p = track(proc);
    if (opts.input !== undefined) proc.stdin?.end(opts.input);
    return p;
  };
  /** Runs `tollgate …` to its end. */
  const run = async (args: string[], opts: CliOptions = {}): Promise<CliRun> => {
    const p = start(args, { input: '', ...opts });
    const { code, signal } = await p.exited;
    return { code, signal, stdout: p.stdout(), stderr: p.stderr() };
  };
  /** Runs `tollgate … --json` and parses stdout; fails with stderr if it did not exit 0. */
  const json = async <T = unknown>(args: string[], opts: CliOptions = {}): Promise<T> => {
    const r = await run([...args, '--json'], opts);
    if (r.code !== 0) throw new Error(`tollgate ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  return {
    home,
    env,
    configFile: join(configHome, 'tollgate', 'config.json'),
    start,
    run,
    json,
    cleanup: () => rmSync(home, { recursive: true, force: true }),
  };
}

export type Cli = ReturnType<typeof makeCli>;

const shellQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * A command in a real pseudo-terminal: a detached tmux session on a private tmux server. The
 * screen is read with capture-pane (`-e` keeps colour escapes), keys are typed with send-keys.
 */
export function inTmux(argv: string[], env: Record<string, string>, size = { x: 120, y: 30 }) {
  const socket = `tollgate-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  const envArgs = Object.entries(env).map(([k, v]) => shellQuote(`${k}=${v}`));
  // The shell keeps the pane open after the command so its last screen and exit code stay readable.
  const line = `env ${envArgs.join(' ')} ${argv.map(shellQuote).join(' ')}; echo "EXIT=$?"; sleep 600`;
  tmux('new-session', '-d', '-s', 'main', '-x', String(size.x), '-y', String(size.y), line);
  const screen = (escapes = false) =>
    tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', 'main');
  return {
    screen,
    type: (...keys: string[]) => void tmux('send-keys', '-t', 'main', ...keys),
    /** Polls the screen until `re` matches it. */
    waitFor: async (re: RegExp, escapes = false, timeoutMs = 30_000): Promise<string> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = screen(escapes);
        if (re.test(s)) return s;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} on screen:\n${s}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    kill: () => {
      try {
        tmux('kill-server');
      } catch {
        // already gone
      }
    },
  };
}

export function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
}
