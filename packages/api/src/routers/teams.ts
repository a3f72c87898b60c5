import {
  addTeamMember,
  createTeam,
  deleteTeam,
  listTeams,
  removeTeamMember,
  updateTeam,
} from '@tollgate/core';
import { auditedAdminProcedure, auditedProcedure, protectedProcedure, router } from '../trpc.ts';
import {
  AddMemberInput,
  CreateTeamInput,
  DeletedTeam,
  RemoveMemberInput,
  Team,
  TeamIdInput,
  TeamPage,
  UpdateTeamInput,
} from './teams.schemas.ts';
import { ListInput } from './users.schemas.ts';

export const teamsRouter = router({
  list: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/teams',
        tags: ['teams'],
        protect: true,
        summary: 'Teams with their members, newest first (admin: all; others: their own teams)',
      },
    })
    .input(ListInput)
    .output(TeamPage)
    .query(({ ctx, input }) => listTeams(ctx, ctx.principal, input)),

  create: auditedAdminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/teams',
        tags: ['teams'],
        protect: true,
        summary: 'Create a team (admin): name, model allow-list, RPM/TPM limits',
      },
    })
    .input(CreateTeamInput)
    .output(Team)
    .mutation(({ ctx, input }) => createTeam(ctx, input, ctx.audit)),

  update: auditedAdminProcedure
    .meta({
      openapi: {
        method: 'PATCH',
        path: '/teams/{id}',
        tags: ['teams'],
        protect: true,
        summary: "Change a team's name, model allow-list or limits (admin)",
      },
    })
    .input(UpdateTeamInput)
    .output(Team)
    .mutation(({ ctx, input }) => {
      const { id, ...changes } = input;
      return updateTeam(ctx, id, changes, ctx.audit);
    }),

  delete: auditedAdminProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/teams/{id}',
        tags: ['teams'],
        protect: true,
        summary: "Delete a team (admin); the team's keys are revoked with it",
      },
    })
    .input(TeamIdInput)
    .output(DeletedTeam)
    .mutation(({ ctx, input }) => deleteTeam(ctx, input.id, ctx.audit)),

  addMember: auditedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/teams/{id}/members',
        tags: ['teams'],
        protect: true,
        summary: "Add a user to a team or change their role (admin or the team's manager)",
      },
    })
    .input(AddMemberInput)
    .output(Team)
    .mutation(({ ctx, input }) =>
      addTeamMember(
        ctx,
        ctx.principal,
        input.id,
        { userId: input.userId, role: input.role },
        ctx.audit,
      ),
    ),

  removeMember: auditedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/teams/{id}/members/{userId}',
        tags: ['teams'],
        protect: true,
        summary:
          "Remove a user from a team, revoking their keys in it (admin or the team's manager)",
      },
    })
    .input(RemoveMemberInput)
    .output(Team)
    .mutation(({ ctx, input }) =>
      removeTeamMember(ctx, ctx.principal, input.id, input.userId, ctx.audit),
    ),
});
