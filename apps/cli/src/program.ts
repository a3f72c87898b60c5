import { registerAuth } from './commands/auth.ts';
import { registerBatch } from './commands/batch.ts';
import { registerBudgets } from './commands/budgets.ts';
import { registerChat } from './commands/chat.ts';
import { registerKeys } from './commands/keys.ts';
import { registerModels } from './commands/models.ts';
import { registerRequests } from './commands/requests.ts';
import { registerUsage } from './commands/usage.ts';
import { registerUsers } from './commands/users.ts';
import { createRoot, type Root } from './root.ts';

export function buildProgram(): Root {
  const program = createRoot();
  registerAuth(program);
  registerKeys(program);
  registerUsers(program);
  registerModels(program);
  registerBudgets(program);
  registerUsage(program);
  registerRequests(program);
  registerChat(program);
  registerBatch(program);
  return program;
}
