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
