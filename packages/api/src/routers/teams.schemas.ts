import { z } from 'zod';
import { AllowedModels } from './keys.schemas.ts';

export const TeamRole = z.enum(['member', 'manager']);

export const TeamMember = z.object({
  userId: z.uuid(),
  email: z.string(),
  role: TeamRole,
  createdAt: z.iso.datetime(),
});

export const Team = z.object({
  id: z.uuid(),
  name: z.string(),
  allowedModels: z.array(z.string()),
  rpmLimit: z.number().int().nullable(),
  tpmLimit: z.number().int().nullable(),
  members: z.array(TeamMember),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

export const TeamPage = z.object({ items: z.array(Team), nextCursor: z.string().nullable() });

const settings = {
  name: z.string().trim().min(1).max(200),
  allowedModels: AllowedModels.optional(),
  rpmLimit: z.number().int().positive().max(1_000_000_000).nullable().optional(),
  tpmLimit: z.number().int().positive().max(1_000_000_000_000).nullable().optional(),
};

// Strict objects: a field the caller may not set is a 400 naming it, never silently applied.
export const CreateTeamInput = z.strictObject(settings);

export const UpdateTeamInput = z.strictObject({
  id: z.uuid(),
  ...settings,
  name: settings.name.optional(),
});

export const TeamIdInput = z.object({ id: z.uuid() });

export const DeletedTeam = z.object({
  id: z.uuid(),
  deleted: z.literal(true),
  /** The team's keys, revoked with it. */
  revokedKeyIds: z.array(z.uuid()),
});

export const AddMemberInput = z.strictObject({ id: z.uuid(), userId: z.uuid(), role: TeamRole });

export const RemoveMemberInput = z.object({ id: z.uuid(), userId: z.uuid() });
