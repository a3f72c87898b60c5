/**
 * Compile-time checks of @tollgate/client's inferred types; never run, only type-checked by
 * `tsc -p apps/server` (a wrong inference turns an `@ts-expect-error` below into an error).
 */
import { createTollgateClient } from '@tollgate/client';

export async function clientTypesCheck(): Promise<void> {
  const client = createTollgateClient({ url: 'http://127.0.0.1:3000', apiKey: 'tg_x' });
  const info = await client.system.info.query({});

  const name: 'tollgate' = info.name;
  const version: string = info.version;
  const uptime: number = info.uptimeSeconds;
  const database: 'ok' | 'unreachable' = info.database;
  const time: string = info.time;
  void [name, version, uptime, database, time];

  // @ts-expect-error: system.info has no such field
  void info.hostname;
  // @ts-expect-error: version is a string, not a number
  const wrong: number = info.version;
  void wrong;
  // @ts-expect-error: database is a closed set of statuses
  const down: 'down' = info.database;
  void down;
  // @ts-expect-error: system.info is a query, not a mutation
  void client.system.info.mutate;
  // @ts-expect-error: no such procedure on the router
  void client.system.nothing;
  // @ts-expect-error: the client needs a url
  createTollgateClient({ apiKey: 'tg_x' });

  // Gateway calls: inputs and outputs inferred from the router.
  const chat = await client.chat.complete.mutate({
    model: 'mock-echo',
    messages: [{ role: 'user', content: 'hi' }],
  });
  const content: string | null = chat.content;
  const inputTokens: number = chat.usage.inputTokens;
  const finish: 'stop' | 'length' | 'tool_calls' | 'content_filter' = chat.finishReason;
  void [content, inputTokens, finish];
  // @ts-expect-error: usage counts are numbers
  const tokens: string = chat.usage.outputTokens;
  void tokens;
  // @ts-expect-error: a message needs a known role
  await client.chat.complete.mutate({ model: 'm', messages: [{ role: 'robot', content: 'x' }] });
  // @ts-expect-error: temperature is a number
  await client.chat.complete.mutate({ model: 'm', messages: [], temperature: 'hot' });
  client.chat.stream.subscribe(
    { model: 'mock-slow', messages: [{ role: 'user', content: 'hi' }], requestId: 'req-12345678' },
    {
      onData: (event) => {
        if (event.type === 'delta') {
          const piece: string | undefined = event.content;
          void piece;
        }
        // @ts-expect-error: stream events are a closed union
        if (event.type === 'chunk') return;
      },
    },
  );
  // @ts-expect-error: chat.stream needs a client requestId (reconnects must not bill twice)
  client.chat.stream.subscribe({ model: 'm', messages: [] }, {});
  const page = await client.requests.list.query({ limit: 10 });
  const next: string | null = page.nextCursor;
  void next;
  // @ts-expect-error: request-log cost is a decimal string, never a float
  const cost: number | null = page.items[0]?.costUsd ?? null;
  void cost;
}
