import type { Context } from '@tollgate/api';

/** Applies headers procedures asked for (retry-after on 429s) to tRPC and REST responses alike. */
export function trpcResponseMeta(opts: { ctx?: Context | undefined }) {
  const headers = opts.ctx?.resHeaders;
  if (!headers || headers.size === 0) return {};
  return { headers: Object.fromEntries(headers) };
}
