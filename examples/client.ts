// `pnpm example` from the repo root runs this file: a typed call with @tollgate/client.
// TOLLGATE_KEY: an API key (the first start prints one); TOLLGATE_URL: where Tollgate listens.
import { createTollgateClient } from '@tollgate/client';

const tollgate = createTollgateClient({
  url: process.env.TOLLGATE_URL ?? 'http://127.0.0.1:3000',
  apiKey: process.env.TOLLGATE_KEY,
});

const info = await tollgate.system.info.query({}); // typed: { name, version, uptimeSeconds, database, time }
console.log(`${info.name} ${info.version}, database ${info.database}`);

const answer = await tollgate.chat.complete.mutate({
  model: 'mock-echo',
  messages: [{ role: 'user', content: 'Hello from @tollgate/client' }],
});
console.log(answer.content);
