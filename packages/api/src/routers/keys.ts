import { router } from '../trpc.ts';

// Procedures of the keys domain (PRODUCT.md route table).
export const keysRouter = router({});
