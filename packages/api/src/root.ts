import { authRouter } from './routers/auth.ts';
import { batchesRouter, webhooksRouter } from './routers/batches.ts';
import { budgetsRouter } from './routers/budgets.ts';
import { chatRouter } from './routers/chat.ts';
import { embeddingsRouter } from './routers/embeddings.ts';
import { keysRouter } from './routers/keys.ts';
import { modelsRouter } from './routers/models.ts';
import { requestsRouter } from './routers/requests.ts';
import { systemRouter } from './routers/system.ts';
import { usageRouter } from './routers/usage.ts';
import { usersRouter } from './routers/users.ts';
import { createCallerFactory, router } from './trpc.ts';

export const appRouter = router({
  system: systemRouter,
  auth: authRouter,
  users: usersRouter,
  keys: keysRouter,
  models: modelsRouter,
  chat: chatRouter,
  embeddings: embeddingsRouter,
  requests: requestsRouter,
  budgets: budgetsRouter,
  usage: usageRouter,
  batches: batchesRouter,
  webhooks: webhooksRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
