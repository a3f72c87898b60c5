import { z } from 'zod';

export const Role = z.enum(['admin', 'member']);
const Password = z.string().min(12, 'at least 12 characters').max(1024);

export const ListInput = z.object({
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.uuid().optional(),
});

export const User = z.object({
  id: z.uuid(),
  email: z.string(),
  role: Role,
  disabled: z.boolean(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

export const UserPage = z.object({ items: z.array(User), nextCursor: z.string().nullable() });

// Strict objects: a field the caller may not set is a 400 naming it, never silently applied.
export const CreateUserInput = z.strictObject({
  email: z.email().max(320),
  password: Password.optional(),
  role: Role,
});

/** The user, plus the generated password (once) when none was given. */
export const CreatedUser = User.extend({ password: z.string().optional() });

export const UpdateUserInput = z.strictObject({
  id: z.uuid(),
  role: Role.optional(),
  disabled: z.boolean().optional(),
  password: Password.optional(),
});
