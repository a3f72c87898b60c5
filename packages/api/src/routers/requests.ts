import { router } from '../trpc.ts';

// Procedures of the requests domain (PRODUCT.md route table).
export const requestsRouter = router({});
