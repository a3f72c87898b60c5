import { router } from '../trpc.ts';

// Procedures of the users domain (PRODUCT.md route table).
export const usersRouter = router({});
