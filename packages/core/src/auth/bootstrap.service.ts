import { sql } from 'kysely';
import type { Deps } from '../deps.ts';
import { issueApiKey } from '../keys/api-keys.service.ts';
import { countUsers, insertUser } from '../users/users.repository.ts';
import { generatePassword, hashPassword } from './passwords.ts';

export type FirstAdmin = { email: string; password: string; apiKey: string };

/**
 * On an empty database, creates the first admin (from TOLLGATE_ADMIN_EMAIL/PASSWORD, or generated)
 * and an admin API key. Returns them once, for the banner; null when users already exist.
 */
export async function bootstrapFirstAdmin(
  deps: Pick<Deps, 'db' | 'config'>,
): Promise<FirstAdmin | null> {
  return deps.db.transaction().execute(async (trx) => {
    // Serialises concurrent first starts (compose: two servers at once).
    await sql`lock table users in exclusive mode`.execute(trx);
    if ((await countUsers(trx)) > 0) return null;
    const email = deps.config.admin.email ?? 'admin@tollgate.local';
    const password = deps.config.admin.password ?? generatePassword();
    const user = await insertUser(trx, {
      email,
      passwordHash: await hashPassword(password),
      role: 'admin',
    });
    const { key } = await issueApiKey(trx, user.id, {
      name: 'bootstrap admin key',
      scopes: ['gateway', 'batches', 'read', 'admin'],
    });
    return { email, password, apiKey: key };
  });
}
