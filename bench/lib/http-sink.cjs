// The dispatch benchmark's worker: a loopback HTTP server in its own process (so it does not share the emulator's
// event loop) that answers 200 at once and records when each request arrived, by the first path segment (the queue).
// Started by bench/sections/dispatch.ts with an IPC channel: it sends { port } when listening; on { type: 'arrivals' }
// it replies with every arrival time (ms, performance.now() of this process) by queue and forgets them.
'use strict';
const http = require('node:http');

let arrivals = new Map();
const server = http.createServer((req, res) => {
  const at = performance.now();
  const queue = (req.url || '/').split('/')[1] || '';
  let list = arrivals.get(queue);
  if (!list) arrivals.set(queue, (list = []));
  list.push(at);
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-length': '0' }).end());
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (m) => {
  if (m && m.type === 'arrivals') {
    process.send({ arrivals: Object.fromEntries(arrivals) });
    arrivals = new Map();
  }
});
process.on('disconnect', () => process.exit(0));
