import { z } from 'zod';

export const ConnectionKind = z.enum(['openai', 'openai-compatible', 'azure-openai', 'anthropic']);

export const ConnectionName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits and . _ - only');

const HeaderName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/, 'not a header name');
// No control characters: a header value must not be able to start a second header line.
const HeaderValue = z
  .string()
  .max(4096)
  .regex(/^[^\r\n\0]*$/, 'no line breaks in a header value');

const connectionFields = {
  kind: ConnectionKind,
  name: ConnectionName,
  /** Checked for safety: link-local and cloud-metadata addresses are refused with a 400. */
  baseUrl: z.string().min(1).max(2048),
  /** Write-only: stored encrypted, shown back only as keyPrefix. */
  apiKey: z.string().min(1).max(4096),
  /** Azure OpenAI's api-version (azure-openai connections). */
  apiVersion: z.string().min(1).max(64).nullable().optional(),
  headers: z.record(HeaderName, HeaderValue).optional(),
  rpmLimit: z.number().int().positive().nullable().optional(),
  tpmLimit: z.number().int().positive().nullable().optional(),
};

export const CreateConnectionInput = z.object(connectionFields);

export const UpdateConnectionInput = z.object({
  id: z.uuid(),
  kind: connectionFields.kind.optional(),
  name: connectionFields.name.optional(),
  baseUrl: connectionFields.baseUrl.optional(),
  apiKey: connectionFields.apiKey.optional(),
  apiVersion: connectionFields.apiVersion,
  headers: connectionFields.headers,
  rpmLimit: connectionFields.rpmLimit,
  tpmLimit: connectionFields.tpmLimit,
});

export const Connection = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['openai', 'openai-compatible', 'azure-openai', 'anthropic', 'mock']),
  baseUrl: z.string().nullable(),
  /** The key's first characters (none of a short key); the key itself is never returned. */
  keyPrefix: z.string().nullable(),
  apiVersion: z.string().nullable(),
  headers: z.record(z.string(), z.string()),
  rpmLimit: z.number().int().nullable(),
  tpmLimit: z.number().int().nullable(),
  /** Configured by OPENAI_* / ANTHROPIC_*: listed, not editable here. */
  builtIn: z.boolean(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

export const ConnectionPage = z.object({
  items: z.array(Connection),
  nextCursor: z.string().nullable(),
});
