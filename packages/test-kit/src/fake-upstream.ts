import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A real HTTP server speaking OpenAI's and Anthropic's wire formats, so adapters and /v1 routes are
 * tested through the official SDKs (never mocked). Each route answers from a queue of scripted
 * steps, then falls back to an echo-like success.
 */

export type FakeRoute =
  | 'POST /v1/chat/completions'
  | 'POST /v1/embeddings'
  | 'POST /v1/messages'
  | 'POST /v1/messages/count_tokens'
  | 'POST /v1/responses'
  | 'GET /v1/models';

export type FakeToolCall = { id?: string; name: string; arguments: string };

export type FakeStep = {
  /** Wait this long before answering (or, alone, before the default answer). */
  delayMs?: number;
  /** Answer with this status; `body` defaults to a real error body of the route's format. */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Answer 200 with exactly this JSON body. */
  json?: unknown;
  /** Answer with these text chunks: SSE when the request asked to stream, else joined JSON. */
  stream?: string[];
  /** Wire-format usage fields merged over the computed defaults. */
  usage?: Record<string, unknown>;
  toolCalls?: FakeToolCall[];
  /** Wire-format finish/stop reason override. */
  finishReason?: string;
  /** Destroy the socket after this many content chunks. */
  dropAfter?: number;
  /** Send the format's in-stream error event after this many content chunks, then end. */
  errorAfter?: number;
  /** Pause between streamed chunks. */
  chunkDelayMs?: number;
  /** Never answer (for timeouts); the socket stays open until the client gives up. */
  hang?: boolean;
  /** Stream without a usage chunk even when asked for one (some OpenAI-compatible servers). */
  noUsage?: boolean;
};

export type FakeRequest = {
  method: string;
  path: string;
  /** The query string's parameters (Azure's api-version). */
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /** True once the client closed the connection before the response was complete. */
  aborted: boolean;
};

export type FakeUpstream = {
  /** `http://127.0.0.1:<port>`: OpenAI base URL is `${url}/v1`, Anthropic's is `url`. */
  url: string;
  script(route: FakeRoute, steps: FakeStep[]): void;
  requests(route: FakeRoute): FakeRequest[];
  /** Count of requests whose client closed the socket before the response finished. */
  readonly closedConnections: number;
  /** TCP connections accepted so far (keep-alive reuse shows as fewer connections than calls). */
  readonly connections: number;
  reset(): void;
  close(): Promise<void>;
};

export type FakeUpstreamOptions = {
  /** When set, requests without this key (Bearer or x-api-key) get a real 401 body. */
  apiKey?: string;
  /** Ids returned by GET /v1/models. */
  models?: string[];
  /**
   * Keep every request for `requests()` (default). The benchmark turns it off: hundreds of
   * thousands of kept requests grew the reference upstream to ~600 MB and into long GCs.
   */
  keepRequests?: boolean;
  /**
   * Azure OpenAI's wire: chat and embeddings answer on `/openai/deployments/{name}/…` (recorded
   * under the `/v1/…` route), checking the `api-key` header (401 otherwise) and the `api-version`
   * query parameter (404 otherwise, as Azure does for an unknown version).
   */
  azure?: { apiKey: string; apiVersion: string };
};

type Format = 'openai' | 'anthropic';

type Json = Record<string, unknown>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const tokens = (text: string) => Math.ceil(text.length / 4);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p: unknown) => (isObject(p) && typeof p.text === 'string' ? p.text : ''))
      .join('');
  }
  return '';
}

function lastUserText(body: unknown): string {
  if (!isObject(body) || !Array.isArray(body.messages)) return '';
  for (let i = body.messages.length - 1; i >= 0; i--) {
    const m: unknown = body.messages[i];
    if (isObject(m) && m.role === 'user') return textOf(m.content);
  }
  return '';
}

function promptText(body: unknown): string {
  if (!isObject(body)) return '';
  const parts: string[] = [];
  if (Array.isArray(body.messages)) {
    for (const m of body.messages) if (isObject(m)) parts.push(textOf(m.content));
  }
  if (typeof body.system === 'string' || Array.isArray(body.system))
    parts.push(textOf(body.system));
  return parts.join('');
}

function stopList(v: unknown): string[] {
  if (typeof v === 'string') return v === '' ? [] : [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : [];
}

/**
 * Ends the answer where a stop sequence first occurs, as real upstreams do: the text before it is
 * kept, the sequence itself is not sent. Chunk boundaries are kept up to the cut.
 */
function applyStop(
  chunks: string[],
  stops: string[],
): { chunks: string[]; matched: string | null } {
  const text = chunks.join('');
  let at = -1;
  let matched: string | null = null;
  for (const stop of stops) {
    const i = text.indexOf(stop);
    if (i !== -1 && (at === -1 || i < at)) {
      at = i;
      matched = stop;
    }
  }
  if (matched === null) return { chunks, matched };
  const kept: string[] = [];
  let used = 0;
  for (const c of chunks) {
    if (used >= at) break;
    const piece = c.slice(0, at - used);
    if (piece !== '') kept.push(piece);
    used += c.length;
  }
  return { chunks: kept, matched };
}

const OPENAI_ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'Invalid request.' },
  401: {
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message: 'Incorrect API key provided.',
  },
  403: { type: 'invalid_request_error', code: null, message: 'Permission denied.' },
  404: {
    type: 'invalid_request_error',
    code: 'model_not_found',
    message: 'The model does not exist or you do not have access to it.',
  },
  429: {
    type: 'requests',
    code: 'rate_limit_exceeded',
    message: 'Rate limit reached for requests. Please try again later.',
  },
};

const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

function errorBody(format: Format, status: number): Json {
  if (format === 'anthropic') {
    const type = ANTHROPIC_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
    return { type: 'error', error: { type, message: `fake upstream ${type}` } };
  }
  const e = OPENAI_ERRORS[status] ?? {
    type: status >= 500 ? 'server_error' : 'invalid_request_error',
    code: null,
    message: 'The server had an error while processing your request.',
  };
  return { error: { message: e.message, type: e.type, param: null, code: e.code } };
}

/** The fake's thinking signature: a digest of the thinking text, as opaque as the real one. */
function signThinking(thinking: string): string {
  return createHash('sha256').update(`fake-thinking:${thinking}`).digest('base64');
}

/**
 * Why an earlier turn's thinking block would be refused (a signature that does not match its
 * text), or undefined when every one is intact.
 */
function tamperedThinking(body: unknown): string | undefined {
  if (!isObject(body) || !Array.isArray(body.messages)) return undefined;
  for (const [i, m] of body.messages.entries()) {
    if (!isObject(m) || m.role !== 'assistant' || !Array.isArray(m.content)) continue;
    for (const b of m.content) {
      if (isObject(b) && b.type === 'thinking') {
        if (typeof b.thinking !== 'string' || b.signature !== signThinking(b.thinking))
          return `${i}.content: invalid signature in thinking block`;
      }
    }
  }
  return undefined;
}

/** count_tokens: the same estimate the fake bills with, tools included. */
function countTokensOf(body: unknown): number {
  const tools = isObject(body) && Array.isArray(body.tools) ? JSON.stringify(body.tools) : '';
  return tokens(promptText(body) + tools);
}

function responsesPromptText(req: Json): string {
  const parts: string[] = [];
  if (typeof req.instructions === 'string') parts.push(req.instructions);
  if (typeof req.input === 'string') parts.push(req.input);
  else if (Array.isArray(req.input)) {
    for (const item of req.input) {
      if (!isObject(item)) continue;
      if ('content' in item) parts.push(textOf(item.content));
      if (typeof item.output === 'string') parts.push(item.output);
      if (typeof item.arguments === 'string') parts.push(item.arguments);
    }
  }
  return parts.join('');
}

/** The Responses input's last user text (a string input is one user message). */
function lastResponsesUserText(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  for (let i = input.length - 1; i >= 0; i--) {
    const item: unknown = input[i];
    if (isObject(item) && item.role === 'user') return textOf(item.content);
  }
  return '';
}

/** Deterministic small vector from the text, for /v1/embeddings. */
function vectorOf(text: string, dims: number): number[] {
  const digest = createHash('sha256').update(text).digest();
  return Array.from({ length: dims }, (_, i) => ((digest[i % digest.length] ?? 0) - 127.5) / 127.5);
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      if (raw === '') return resolve(undefined);
      try {
        resolve(JSON.parse(raw));
      } catch {
        resolve(raw);
      }
    });
    req.on('error', reject);
  });
}

/** Starts the fake upstream on 127.0.0.1 with a free port. */
export async function startFakeUpstream(opts: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const scripts = new Map<string, FakeStep[]>();
  const received = new Map<string, FakeRequest[]>();
  const sockets = new Set<Socket>();
  let closedConnections = 0;
  // Sockets we destroyed on purpose (dropAfter) are not client aborts.
  const dropped = new WeakSet<ServerResponse>();
  const drop = (res: ServerResponse): undefined => {
    dropped.add(res);
    // end() flushes the chunks already written, then closes without the terminating chunk: the
    // client sees some data and then a broken body, like a real mid-stream drop.
    if (res.socket) res.socket.end();
    else res.destroy();
    return undefined;
  };
  const models = opts.models ?? ['gpt-4o-mini', 'text-embedding-3-small', 'claude-sonnet-4-6'];

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  let connections = 0;
  server.on('connection', (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const azureMatch = /^\/openai\/deployments\/[^/]+\/(chat\/completions|embeddings)$/.exec(path);
    const route = azureMatch ? `${req.method} /v1/${azureMatch[1]}` : `${req.method} ${path}`;
    const body = await readBody(req);
    const record: FakeRequest = {
      method: req.method ?? '',
      path,
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      body,
      aborted: false,
    };
    if (opts.keepRequests !== false) {
      const list = received.get(route) ?? [];
      list.push(record);
      received.set(route, list);
    }
    res.on('close', () => {
      if (!res.writableFinished && !dropped.has(res)) {
        record.aborted = true;
        closedConnections++;
      }
    });

    const format: Format =
      path.startsWith('/v1/messages') || req.headers['anthropic-version'] !== undefined
        ? 'anthropic'
        : 'openai';
    const step = scripts.get(route)?.shift() ?? {};
    if (step.delayMs) await sleep(step.delayMs);
    if (step.hang) return; // never answer; the client's timeout or abort ends it

    if (opts.azure) {
      if (!azureMatch) return sendJson(res, 404, errorBody('openai', 404));
      if (req.headers['api-key'] !== opts.azure.apiKey) {
        return sendJson(res, 401, errorBody('openai', 401));
      }
      if (url.searchParams.get('api-version') !== opts.azure.apiVersion) {
        return sendJson(res, 404, errorBody('openai', 404));
      }
    }
    if (opts.apiKey !== undefined) {
      const bearer = req.headers.authorization;
      const key = req.headers['x-api-key'];
      if (bearer !== `Bearer ${opts.apiKey}` && key !== opts.apiKey) {
        return sendJson(res, 401, errorBody(format, 401));
      }
    }
    if (step.status !== undefined && step.status !== 200) {
      return sendJson(res, step.status, step.body ?? errorBody(format, step.status), step.headers);
    }
    if (step.json !== undefined) return sendJson(res, 200, step.json, step.headers);

    switch (route) {
      case 'POST /v1/chat/completions':
        return openaiChat(res, body, step);
      case 'POST /v1/messages':
        return anthropicMessages(res, body, step);
      case 'POST /v1/messages/count_tokens':
        return sendJson(res, 200, { input_tokens: countTokensOf(body) }, step.headers);
      case 'POST /v1/responses':
        return openaiResponses(res, body, step);
      case 'POST /v1/embeddings':
        return embeddings(res, body, step);
      case 'GET /v1/models':
        return listModels(res, format, step);
      default:
        return sendJson(res, 404, errorBody(format, 404));
    }
  }

  function sendJson(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): undefined {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'x-request-id': `req_${randomUUID()}`,
      'request-id': `req_${randomUUID()}`,
      ...headers,
    });
    res.end(text);
    return undefined;
  }

  function listModels(res: ServerResponse, format: Format, step: FakeStep): undefined {
    if (format === 'anthropic') {
      return sendJson(
        res,
        200,
        {
          data: models.map((id) => ({
            type: 'model',
            id,
            display_name: id,
            created_at: '2025-01-01T00:00:00Z',
          })),
          has_more: false,
          first_id: models[0] ?? null,
          last_id: models.at(-1) ?? null,
        },
        step.headers,
      );
    }
    return sendJson(
      res,
      200,
      {
        object: 'list',
        data: models.map((id) => ({
          id,
          object: 'model',
          created: 1_700_000_000,
          owned_by: 'fake',
        })),
      },
      step.headers,
    );
  }

  async function openaiChat(res: ServerResponse, body: unknown, step: FakeStep): Promise<void> {
    const req = isObject(body) ? body : {};
    const model = typeof req.model === 'string' ? req.model : 'gpt-4o-mini';
    const stopped = applyStop(
      step.stream ?? (step.toolCalls ? [] : [lastUserText(body)]),
      stopList(req.stop),
    );
    const chunks = stopped.chunks;
    const text = chunks.join('');
    // Generation ended at the stop sequence: no tool calls come after it.
    const calls = (stopped.matched === null ? (step.toolCalls ?? []) : []).map((c, i) => ({
      id: c.id ?? `call_${i}_${randomUUID().slice(0, 8)}`,
      name: c.name,
      arguments: c.arguments,
    }));
    const finish = step.finishReason ?? (calls.length > 0 ? 'tool_calls' : 'stop');
    const promptTokens = tokens(promptText(body));
    const completionTokens = tokens(text + calls.map((c) => c.name + c.arguments).join(''));
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
      ...step.usage,
    };
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);

    if (req.stream !== true) {
      return sendJson(
        res,
        200,
        {
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: calls.length > 0 && text === '' ? null : text,
                refusal: null,
                ...(calls.length > 0
                  ? {
                      tool_calls: calls.map((c) => ({
                        id: c.id,
                        type: 'function',
                        function: { name: c.name, arguments: c.arguments },
                      })),
                    }
                  : {}),
              },
              logprobs: null,
              finish_reason: finish,
            },
          ],
          usage,
          system_fingerprint: null,
        },
        step.headers,
      );
    }

    const includeUsage =
      !step.noUsage && isObject(req.stream_options) && req.stream_options.include_usage === true;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': `req_${randomUUID()}`,
      ...step.headers,
    });
    const chunk = (delta: Json, finishReason: string | null) =>
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        system_fingerprint: null,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        ...(includeUsage ? { usage: null } : {}),
      })}\n\n`;

    res.write(chunk({ role: 'assistant', content: '', refusal: null }, null));
    let sent = 0;
    const content = text === '' && !step.stream ? [] : chunks;
    for (const piece of content) {
      if (step.chunkDelayMs) await sleep(step.chunkDelayMs);
      if (res.destroyed) return;
      if (step.dropAfter !== undefined && sent >= step.dropAfter) return drop(res);
      if (step.errorAfter !== undefined && sent >= step.errorAfter) {
        res.write(`data: ${JSON.stringify(errorBody('openai', 500))}\n\n`);
        return void res.end();
      }
      res.write(chunk({ content: piece }, null));
      sent++;
    }
    if (step.dropAfter !== undefined && sent >= step.dropAfter) return drop(res);
    for (const [index, c] of calls.entries()) {
      // Real streams send id + name first, then the arguments in fragments.
      res.write(
        chunk(
          {
            tool_calls: [
              { index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } },
            ],
          },
          null,
        ),
      );
      const half = Math.ceil(c.arguments.length / 2);
      for (const frag of [c.arguments.slice(0, half), c.arguments.slice(half)]) {
        if (frag !== '')
          res.write(chunk({ tool_calls: [{ index, function: { arguments: frag } }] }, null));
      }
    }
    res.write(chunk({}, finish));
    if (includeUsage) {
      res.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices: [], usage })}\n\n`,
      );
    }
    res.end('data: [DONE]\n\n');
  }

  async function anthropicMessages(
    res: ServerResponse,
    body: unknown,
    step: FakeStep,
  ): Promise<void> {
    const req = isObject(body) ? body : {};
    const model = typeof req.model === 'string' ? req.model : 'claude-sonnet-4-6';
    const stopped = applyStop(
      step.stream ?? (step.toolCalls ? [] : [lastUserText(body)]),
      stopList(req.stop_sequences),
    );
    const chunks = stopped.chunks;
    const text = chunks.join('');
    // Generation ended at the stop sequence: no tool calls come after it.
    const calls = (stopped.matched === null ? (step.toolCalls ?? []) : []).map((c, i) => ({
      id: c.id ?? `toolu_${i}${randomUUID().replaceAll('-', '').slice(0, 20)}`,
      name: c.name,
      arguments: c.arguments,
    }));
    const stopReason =
      step.finishReason ??
      (stopped.matched !== null ? 'stop_sequence' : calls.length > 0 ? 'tool_use' : 'end_turn');
    const stopSequence = stopReason === 'stop_sequence' ? stopped.matched : null;
    const usage: Json = {
      input_tokens: tokens(promptText(body)),
      output_tokens: tokens(text + calls.map((c) => c.name + c.arguments).join('')),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      ...step.usage,
    };
    const id = `msg_${randomUUID().replaceAll('-', '')}`;
    // Extended thinking: earlier turns' thinking blocks must come back with their signatures
    // unchanged, as the real API insists; a new thinking block opens the answer.
    const badSignature = tamperedThinking(body);
    if (badSignature !== undefined) {
      return sendJson(res, 400, {
        type: 'error',
        error: { type: 'invalid_request_error', message: `messages: ${badSignature}` },
      });
    }
    const thinking =
      isObject(req.thinking) && req.thinking.type === 'enabled'
        ? {
            thinking: `Thinking about: ${lastUserText(body)}`,
            signature: '',
          }
        : undefined;
    if (thinking) thinking.signature = signThinking(thinking.thinking);

    if (req.stream !== true) {
      const content: Json[] = [];
      if (thinking) content.push({ type: 'thinking', ...thinking });
      if (text !== '' || calls.length === 0) content.push({ type: 'text', text });
      for (const c of calls) {
        content.push({
          type: 'tool_use',
          id: c.id,
          name: c.name,
          input: JSON.parse(c.arguments || '{}'),
        });
      }
      return sendJson(
        res,
        200,
        {
          id,
          type: 'message',
          role: 'assistant',
          model,
          content,
          stop_reason: stopReason,
          stop_sequence: stopSequence,
          usage,
        },
        step.headers,
      );
    }

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'request-id': `req_${randomUUID()}`,
      ...step.headers,
    });
    const event = (name: string, data: Json) =>
      res.write(`event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`);

    event('message_start', {
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    });
    let index = 0;
    if (thinking) {
      event('content_block_start', {
        index,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      });
      const half = Math.ceil(thinking.thinking.length / 2);
      for (const frag of [thinking.thinking.slice(0, half), thinking.thinking.slice(half)]) {
        event('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: frag } });
      }
      event('content_block_delta', {
        index,
        delta: { type: 'signature_delta', signature: thinking.signature },
      });
      event('content_block_stop', { index });
      index++;
    }
    const pieces = text === '' && !step.stream ? [] : chunks;
    if (pieces.length > 0 || calls.length === 0) {
      event('content_block_start', { index, content_block: { type: 'text', text: '' } });
      event('ping', {});
      let sent = 0;
      for (const piece of pieces) {
        if (step.chunkDelayMs) await sleep(step.chunkDelayMs);
        if (res.destroyed) return;
        if (step.dropAfter !== undefined && sent >= step.dropAfter) return drop(res);
        if (step.errorAfter !== undefined && sent >= step.errorAfter) {
          event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
          return void res.end();
        }
        event('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
        sent++;
      }
      if (step.dropAfter !== undefined && sent >= step.dropAfter) return drop(res);
      event('content_block_stop', { index });
      index++;
    }
    for (const c of calls) {
      event('content_block_start', {
        index,
        content_block: { type: 'tool_use', id: c.id, name: c.name, input: {} },
      });
      const half = Math.ceil(c.arguments.length / 2);
      for (const frag of [c.arguments.slice(0, half), c.arguments.slice(half)]) {
        if (frag !== '') {
          event('content_block_delta', {
            index,
            delta: { type: 'input_json_delta', partial_json: frag },
          });
        }
      }
      event('content_block_stop', { index });
      index++;
    }
    event('message_delta', {
      delta: { stop_reason: stopReason, stop_sequence: stopSequence },
      usage: { output_tokens: usage.output_tokens },
    });
    event('message_stop', {});
    res.end();
  }

  async function openaiResponses(
    res: ServerResponse,
    body: unknown,
    step: FakeStep,
  ): Promise<void> {
    const req = isObject(body) ? body : {};
    const model = typeof req.model === 'string' ? req.model : 'gpt-4o-mini';
    const text = (step.stream ?? (step.toolCalls ? [] : [lastResponsesUserText(req.input)])).join(
      '',
    );
    const chunks = step.stream ?? (text === '' ? [] : [text]);
    const calls = (step.toolCalls ?? []).map((c, i) => ({
      call_id: c.id ?? `call_${i}_${randomUUID().slice(0, 8)}`,
      name: c.name,
      arguments: c.arguments,
    }));
    const inputTokens = tokens(responsesPromptText(req));
    const outputTokens = tokens(text + calls.map((c) => c.name + c.arguments).join(''));
    const usage = {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: inputTokens + outputTokens,
      ...step.usage,
    };
    const id = `resp_${randomUUID().replaceAll('-', '')}`;
    const created = Math.floor(Date.now() / 1000);
    const message = (t: string, status: string) => ({
      id: `msg_${id.slice(5, 25)}`,
      type: 'message',
      status,
      role: 'assistant',
      content:
        t === '' && status === 'in_progress'
          ? []
          : [{ type: 'output_text', text: t, annotations: [] }],
    });
    const output: Json[] = [];
    if (text !== '' || calls.length === 0) output.push(message(text, 'completed'));
    for (const [i, c] of calls.entries())
      output.push({
        id: `fc_${i}_${id.slice(5, 20)}`,
        type: 'function_call',
        status: 'completed',
        ...c,
      });
    const response = (status: string, out: Json[], u: unknown) => ({
      id,
      object: 'response',
      created_at: created,
      status,
      error: null,
      incomplete_details: null,
      instructions: req.instructions ?? null,
      max_output_tokens: req.max_output_tokens ?? null,
      model,
      output: out,
      parallel_tool_calls: true,
      previous_response_id: req.previous_response_id ?? null,
      reasoning: { effort: null, summary: null },
      store: req.store ?? true,
      temperature: 1,
      text: { format: { type: 'text' } },
      tool_choice: req.tool_choice ?? 'auto',
      tools: req.tools ?? [],
      top_p: 1,
      truncation: 'disabled',
      usage: u,
      metadata: {},
    });
    if (req.stream !== true)
      return sendJson(res, 200, response('completed', output, usage), step.headers);

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': `req_${randomUUID()}`,
      ...step.headers,
    });
    let seq = 0;
    const event = (type: string, data: Json) =>
      res.write(
        `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`,
      );
    event('response.created', { response: response('in_progress', [], null) });
    event('response.in_progress', { response: response('in_progress', [], null) });
    let outputIndex = 0;
    if (text !== '' || calls.length === 0) {
      const item = message('', 'in_progress');
      event('response.output_item.added', { output_index: outputIndex, item });
      event('response.content_part.added', {
        item_id: item.id,
        output_index: outputIndex,
        content_index: 0,
        part: { type: 'output_text', text: '', annotations: [] },
      });
      let sent = 0;
      for (const piece of chunks) {
        if (step.chunkDelayMs) await sleep(step.chunkDelayMs);
        if (res.destroyed) return;
        if (step.dropAfter !== undefined && sent >= step.dropAfter) return drop(res);
        if (step.errorAfter !== undefined && sent >= step.errorAfter) {
          event('error', { code: 'server_error', message: 'The server had an error', param: null });
          return void res.end();
        }
        event('response.output_text.delta', {
          item_id: item.id,
          output_index: outputIndex,
          content_index: 0,
          delta: piece,
          logprobs: [],
        });
        sent++;
      }
      event('response.output_text.done', {
        item_id: item.id,
        output_index: outputIndex,
        content_index: 0,
        text,
        logprobs: [],
      });
      event('response.content_part.done', {
        item_id: item.id,
        output_index: outputIndex,
        content_index: 0,
        part: { type: 'output_text', text, annotations: [] },
      });
      event('response.output_item.done', { output_index: outputIndex, item: output[outputIndex] });
      outputIndex++;
    }
    for (const done of output.slice(outputIndex)) {
      const item: Json = { ...done, status: 'in_progress', arguments: '' };
      event('response.output_item.added', { output_index: outputIndex, item });
      const args = String(done.arguments);
      const half = Math.ceil(args.length / 2);
      for (const frag of [args.slice(0, half), args.slice(half)]) {
        if (frag !== '')
          event('response.function_call_arguments.delta', {
            item_id: item.id,
            output_index: outputIndex,
            delta: frag,
          });
      }
      event('response.function_call_arguments.done', {
        item_id: item.id,
        output_index: outputIndex,
        arguments: args,
      });
      event('response.output_item.done', { output_index: outputIndex, item: done });
      outputIndex++;
    }
    event('response.completed', { response: response('completed', output, usage) });
    res.end();
  }

  function embeddings(res: ServerResponse, body: unknown, step: FakeStep): undefined {
    const req = isObject(body) ? body : {};
    const inputs = Array.isArray(req.input) ? req.input.map(String) : [String(req.input ?? '')];
    const dims = typeof req.dimensions === 'number' ? req.dimensions : 8;
    const base64 = req.encoding_format === 'base64';
    const promptTokens = inputs.reduce((s, t) => s + tokens(t), 0);
    return sendJson(
      res,
      200,
      {
        object: 'list',
        model: typeof req.model === 'string' ? req.model : 'text-embedding-3-small',
        data: inputs.map((t, index) => {
          const v = vectorOf(t, dims);
          return {
            object: 'embedding',
            index,
            // The openai SDK asks for base64 by default and decodes float32 little-endian.
            embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v,
          };
        }),
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens, ...step.usage },
      },
      step.headers,
    );
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    script(route, steps) {
      scripts.set(route, [...(scripts.get(route) ?? []), ...steps]);
    },
    requests(route) {
      return received.get(route) ?? [];
    },
    get connections() {
      return connections;
    },
    get closedConnections() {
      return closedConnections;
    },
    reset() {
      scripts.clear();
      received.clear();
      closedConnections = 0;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve, reject) =>
        server.close((err) => (err ? reject(err) : resolve())),
      );
    },
  };
}
