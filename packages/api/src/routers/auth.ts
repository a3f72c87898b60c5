import { router } from '../trpc.ts';

// Procedures of the auth domain (PRODUCT.md route table).
export const authRouter = router({});
