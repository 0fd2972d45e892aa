// An OpenAI-style token stream served by Node.js's own `http` module (chunked transfer
// encoding), for stampede's streaming tests: GET or POST any path; `?tokens=N&first=MS&every=MS`.
// Prints its port, then one line `stream TOKENS` per stream it finished writing.
const http = require('http');
const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  const n = parseInt(u.searchParams.get('tokens') || '10', 10);
  const first = parseInt(u.searchParams.get('first') || '50', 10);
  const every = parseInt(u.searchParams.get('every') || '10', 10);
  const nl = u.searchParams.get('crlf') === '1' ? '\r\n' : '\n';
  req.resume();
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const start = Date.now();
  let i = 0;
  const send = () => {
    if (res.destroyed) return;
    if (i === n) {
      res.write(`data: {"choices":[],"usage":{"completion_tokens":${n}}}${nl}${nl}data: [DONE]${nl}${nl}`);
      res.end();
      process.stdout.write(`stream ${n}\n`);
      return;
    }
    res.write(`data: {"choices":[{"delta":{"content":"t${i} "}}]}${nl}${nl}`);
    i += 1;
    setTimeout(send, Math.max(0, start + first + i * every - Date.now()));
  };
  setTimeout(send, first);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`port ${server.address().port}\n`);
});
