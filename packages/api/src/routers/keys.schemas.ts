import { z } from 'zod';

export const KeyScope = z.enum(['gateway', 'batches', 'read', 'admin']);

export const Key = z.object({
  id: z.uuid(),
  userId: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(KeyScope),
  expiresAt: z.iso.datetime().nullable(),
  lastUsedAt: z.iso.datetime().nullable(),
  revokedAt: z.iso.datetime().nullable(),
  rpmLimit: z.number().int().nullable(),
  tpmLimit: z.number().int().nullable(),
  logBodies: z.boolean().nullable(),
  cache: z.boolean(),
  createdAt: z.iso.datetime(),
});

export const KeyPage = z.object({ items: z.array(Key), nextCursor: z.string().nullable() });

/** The key as created: `key` is the secret, returned this once and never again. */
export const CreatedKey = Key.extend({ key: z.string() });

const settings = {
  name: z.string().trim().min(1).max(200),
  expiresAt: z.iso.datetime({ offset: true }).nullable().optional(),
  rpmLimit: z.number().int().positive().max(1_000_000_000).nullable().optional(),
  // api_keys.tpm_limit is an int4: a larger value was a 500 from Postgres.
  tpmLimit: z.number().int().positive().max(2_147_483_647).nullable().optional(),
  logBodies: z.boolean().nullable().optional(),
  cache: z.boolean().optional(),
};

// Strict objects: owner, revocation, prefix … are not the caller's to set (mass assignment).
export const CreateKeyInput = z.strictObject({
  ...settings,
  scopes: z.array(KeyScope).min(1).max(4).optional(),
});

/** The same fields as create, but scopes: a key's power is fixed at birth. */
export const UpdateKeyInput = z.strictObject({
  id: z.uuid(),
  ...settings,
  name: settings.name.optional(),
});

export const KeyIdInput = z.object({ id: z.uuid() });
