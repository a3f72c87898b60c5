import { router } from '../trpc.ts';

// Procedures of the embeddings domain (PRODUCT.md route table).
export const embeddingsRouter = router({});
