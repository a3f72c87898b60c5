/**
 * A counting OTLP/HTTP sink for `pnpm bench:otel`, in a process of its own as a collector would
 * be: in the load generator's process, receiving the export batches shared an event loop with
 * the load it measures. Answers every POST with an empty success; GET /stats says what arrived.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

let batches = 0;
let bytes = 0;
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ batches, bytes }));
    return;
  }
  req.on('data', (c: Buffer) => {
    bytes += c.length;
  });
  req.on('end', () => {
    batches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
