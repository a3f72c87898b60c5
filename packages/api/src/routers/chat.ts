import { router } from '../trpc.ts';

// Procedures of the chat domain (PRODUCT.md route table).
export const chatRouter = router({});
