import SwaggerParser from '@apidevtools/swagger-parser';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let member: TestUser;
// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is walked dynamically
let doc: any;

beforeAll(async () => {
  s = await startTestServer();
  member = await createTestUser(s.testDb.db);
  const res = await s.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});
afterAll(() => closeTestServer(s));

type Schema = {
  type?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  $ref?: string;
};

/** A small structural check of a JSON value against the document's (simple) error schema. */
function conforms(value: unknown, schema: Schema, path = '$'): string[] {
  if (schema.$ref) {
    const target = schema.$ref
      .replace('#/', '')
      .split('/')
      .reduce((o, k) => o[k], doc);
    return conforms(value, target, path);
  }
  const problems: string[] = [];
  if (schema.type === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return [`${path} is not an object`];
    const obj = value as Record<string, unknown>;
    for (const k of schema.required ?? []) if (!(k in obj)) problems.push(`${path}.${k} missing`);
    for (const [k, sub] of Object.entries(schema.properties ?? {}))
      if (k in obj) problems.push(...conforms(obj[k], sub, `${path}.${k}`));
  } else if (schema.type === 'array') {
    if (!Array.isArray(value)) return [`${path} is not an array`];
    value.forEach((v, i) => {
      if (schema.items) problems.push(...conforms(v, schema.items, `${path}[${i}]`));
    });
  } else if (schema.type === 'string' && typeof value !== 'string') {
    problems.push(`${path} is not a string`);
  }
  return problems;
}

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3 document', async () => {
    expect(doc.openapi).toMatch(/^3\./);
    // validate() dereferences in place: give it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeTruthy();
  });

  it('declares a bearer security scheme and protects system.info with it', () => {
    const schemes = Object.values(doc.components.securitySchemes) as {
      type: string;
      scheme?: string;
    }[];
    expect(schemes).toContainEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    const op = doc.paths['/system/info'].get;
    expect(op.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.servers[0].url).toBe('/api');
  });

  it('documents GET /system/info with its response schema', () => {
    const op = doc.paths['/system/info'].get;
    const schema = op.responses['200'].content['application/json'].schema;
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['name', 'version', 'uptimeSeconds', 'database', 'time']),
    );
  });

  it('marks login and refresh as public when they exist', () => {
    for (const path of ['/auth/login', '/auth/refresh']) {
      const op = doc.paths[path]?.post;
      if (op) expect(op.security).toEqual([]);
    }
  });

  it('describes the error body a real 401 from /api carries', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/api/system/info' });
    expect(res.statusCode).toBe(401);
    const schema = doc.paths['/system/info'].get.responses['401'].content['application/json']
      .schema as Schema;
    expect(conforms(res.json(), schema)).toEqual([]);
    expect(res.json().error.code).toBe('unauthenticated');
  });

  it('describes the error bodies of malformed JSON, unknown routes and oversized bodies', async () => {
    const auth = { authorization: `Bearer ${member.apiKey}` };
    const bad = await s.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: '{"email": ',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('bad_request');

    const missing = await s.app.inject({ method: 'GET', url: '/api/no/such/route', headers: auth });
    expect(missing.statusCode).toBe(404);

    const big = await s.app.inject({
      method: 'POST',
      url: '/api/keys',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('payload_too_large');

    for (const res of [bad, missing, big]) {
      expect(conforms(res.json(), doc.components.schemas.Error)).toEqual([]);
    }
  });
});

/** PRODUCT.md's OpenAI/Anthropic-compatible routes, as OpenAPI path templates. */
const v1Routes: [method: string, path: string, tag: string][] = [
  ['get', '/v1/models', 'OpenAI-compatible'],
  ['get', '/v1/models/{model}', 'OpenAI-compatible'],
  ['post', '/v1/chat/completions', 'OpenAI-compatible'],
  ['post', '/v1/embeddings', 'OpenAI-compatible'],
  ['post', '/v1/responses', 'OpenAI-compatible'],
  ['get', '/v1/responses/{id}', 'OpenAI-compatible'],
  ['delete', '/v1/responses/{id}', 'OpenAI-compatible'],
  ['post', '/v1/files', 'OpenAI-compatible'],
  ['get', '/v1/files', 'OpenAI-compatible'],
  ['get', '/v1/files/{id}', 'OpenAI-compatible'],
  ['get', '/v1/files/{id}/content', 'OpenAI-compatible'],
  ['delete', '/v1/files/{id}', 'OpenAI-compatible'],
  ['post', '/v1/batches', 'OpenAI-compatible'],
  ['get', '/v1/batches', 'OpenAI-compatible'],
  ['get', '/v1/batches/{id}', 'OpenAI-compatible'],
  ['post', '/v1/batches/{id}/cancel', 'OpenAI-compatible'],
  ['post', '/v1/messages', 'Anthropic-compatible'],
  ['post', '/v1/messages/count_tokens', 'Anthropic-compatible'],
];

describe('/openapi.json: the /v1 routes', () => {
  it('documents every /v1 route the server has, under its tag, at the server root', () => {
    for (const [method, path, tag] of v1Routes) {
      // The route is real (Fastify's template uses :param)…
      const url = path.replace(/\{(\w+)\}/g, ':$1');
      expect(s.app.hasRoute({ method: method.toUpperCase() as 'GET', url }), url).toBe(true);
      // …and documented.
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      expect(op.tags).toEqual([tag]);
      expect(doc.paths[path].servers).toEqual([expect.objectContaining({ url: '/' })]);
    }
    // Nothing documented under /v1 that the server does not serve.
    const documented = Object.entries(doc.paths)
      .filter(([p]) => p.startsWith('/v1/'))
      .flatMap(([p, item]) =>
        Object.keys(item as object)
          .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
          .map((m) => `${m} ${p}`),
      );
    expect(documented.sort()).toEqual(v1Routes.map(([m, p]) => `${m} ${p}`).sort());
    expect(doc.tags.map((t: { name: string }) => t.name)).toEqual(
      expect.arrayContaining(['OpenAI-compatible', 'Anthropic-compatible']),
    );
  });

  it('takes a bearer token or x-api-key on /v1; /api operations stay bearer only', () => {
    expect(doc.components.securitySchemes.apiKeyAuth).toEqual(
      expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-api-key' }),
    );
    for (const [method, path] of v1Routes)
      expect(doc.paths[path][method].security).toEqual([{ bearerAuth: [] }, { apiKeyAuth: [] }]);
    expect(doc.paths['/keys'].get.security).toEqual([{ bearerAuth: [] }]);
  });

  it("generates request bodies from the routes' zod schemas", () => {
    const body = (path: string) =>
      doc.paths[path].post.requestBody.content['application/json'].schema as Schema;
    const chat = body('/v1/chat/completions');
    expect(chat.required).toEqual(expect.arrayContaining(['model', 'messages']));
    expect(Object.keys(chat.properties ?? {})).toEqual(
      expect.arrayContaining(['temperature', 'tools', 'response_format', 'stream_options']),
    );
    expect(body('/v1/messages').required).toEqual(
      expect.arrayContaining(['model', 'max_tokens', 'messages']),
    );
    expect(Object.keys(body('/v1/messages').properties ?? {})).toContain('thinking');
    expect(body('/v1/messages/count_tokens').required).not.toContain('max_tokens');
    expect(Object.keys(body('/v1/responses').properties ?? {})).toEqual(
      expect.arrayContaining(['previous_response_id', 'store', 'instructions']),
    );
    expect(body('/v1/batches').required).toEqual(
      expect.arrayContaining(['input_file_id', 'endpoint', 'completion_window']),
    );
    expect(
      doc.paths['/v1/files'].post.requestBody.content['multipart/form-data'].schema.required,
    ).toEqual(expect.arrayContaining(['file', 'purpose']));
  });

  it("describes the error bodies real /v1 refusals carry, in each surface's shape", async () => {
    const auth = { authorization: `Bearer ${member.apiKey}` };
    const openaiMissing = await s.app.inject({
      method: 'GET',
      url: '/v1/responses/resp_nope',
      headers: auth,
    });
    expect(openaiMissing.statusCode).toBe(404);
    const openaiSchema = doc.paths['/v1/responses/{id}'].get.responses['404'].content[
      'application/json'
    ].schema as Schema;
    expect(conforms(openaiMissing.json(), openaiSchema)).toEqual([]);
    expect(openaiMissing.json().error.type).toBe('not_found_error');

    const anthropicBad = await s.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: { model: 'mock-echo', messages: [] },
    });
    expect(anthropicBad.statusCode).toBe(400);
    const anthropicSchema = doc.paths['/v1/messages'].post.responses['400'].content[
      'application/json'
    ].schema as Schema;
    expect(conforms(anthropicBad.json(), anthropicSchema)).toEqual([]);
    expect(anthropicBad.json().type).toBe('error');
    // The two shapes differ: an OpenAI body does not pass as an Anthropic one.
    expect(conforms(openaiMissing.json(), anthropicSchema)).not.toEqual([]);
  });
});

describe('/docs', () => {
  it('serves an HTML API reference pointing at /openapi.json', async () => {
    const first = await s.app.inject({ method: 'GET', url: '/docs' });
    // The reference may redirect /docs to /docs/; follow it like a browser would.
    const location = first.headers.location;
    const res =
      first.statusCode >= 300 && first.statusCode < 400 && typeof location === 'string'
        ? await s.app.inject({ method: 'GET', url: location })
        : first;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain('/openapi.json');
  });
});
