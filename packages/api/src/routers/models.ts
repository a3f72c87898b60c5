import { router } from '../trpc.ts';

// Procedures of the models domain (PRODUCT.md route table).
export const modelsRouter = router({});
