import type { FastifyInstance, preValidationHookHandler } from 'fastify';

/**
 * Deepest JSON nesting a request body may have. Real requests stay far below it (OpenAI limits
 * structured-output schemas to 10 levels); code that walks a value recursively (trpc-to-openapi's
 * input coercion, zod, JSON.stringify of logged bodies) overflows the stack somewhere past a few
 * thousand levels, which answered a 100,000-deep body with 500.
 */
export const MAX_JSON_DEPTH = 256;

/** Index of the quote that closes the string opened at `open`, or -1 when it never closes. */
function stringEnd(text: string, open: number): number {
  let j = open + 1;
  for (;;) {
    j = text.indexOf('"', j);
    if (j === -1) return -1;
    let backslashes = 0;
    while (text.charCodeAt(j - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) return j;
    j++;
  }
}

/**
 * Whether `text` nests objects/arrays deeper than `max`, scanned without recursion and without
 * parsing; string contents (the bulk of any prompt) are skipped with indexOf.
 */
export function jsonDeeperThan(text: string, max: number): boolean {
  // Nesting deeper than max needs more than max opening brackets.
  if (text.length <= max) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      i = stringEnd(text, i);
      if (i === -1) return false; // unterminated: JSON.parse refuses it with its own 400
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--;
    }
  }
  return false;
}

export class JsonTooDeepError extends Error {
  readonly statusCode = 400;
  readonly code = 'FST_ERR_CTP_INVALID_JSON_BODY';
  constructor() {
    super(`JSON body nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
}

/** tRPC parses its JSON itself (its plugin hands the handler the raw string): checked here. */
const trpcBodyGuard: preValidationHookHandler = (req, _reply, done) => {
  if (typeof req.body === 'string' && jsonDeeperThan(req.body, MAX_JSON_DEPTH)) {
    return done(new JsonTooDeepError());
  }
  done();
};

/**
 * Fastify's own JSON parser (same prototype-poisoning rules) behind a nesting check, and the same
 * check on /trpc bodies: a body deeper than MAX_JSON_DEPTH is a 400 in the surface's shape before
 * anything walks it. Call before registering the routes (onRoute only sees later routes).
 */
export function installJsonDepthLimit(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (jsonDeeperThan(body as string, MAX_JSON_DEPTH)) return done(new JsonTooDeepError());
    return parse(req, body as string, done);
  });
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/trpc/')) return;
    const own = route.preValidation;
    route.preValidation = own === undefined ? [trpcBodyGuard] : [trpcBodyGuard, ...[own].flat()];
  });
}
