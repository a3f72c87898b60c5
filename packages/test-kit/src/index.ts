export type { TestDb } from './test-db.ts';
export { createTestDb } from './test-db.ts';
