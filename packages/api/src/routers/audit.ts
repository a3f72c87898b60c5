import { listAudit } from '@tollgate/core';
import { adminProcedure, router } from '../trpc.ts';
import { AuditListInput, AuditPage } from './audit.schemas.ts';

// Read-only on purpose: no procedure changes the audit log (the database refuses it too).
export const auditRouter = router({
  list: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/audit',
        tags: ['audit'],
        protect: true,
        summary: 'The append-only log of admin and manager actions, newest first (admin)',
      },
    })
    .input(AuditListInput)
    .output(AuditPage)
    .query(({ ctx, input }) => listAudit(ctx, input)),
});
