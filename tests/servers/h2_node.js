// An HTTP/2 server on Node.js's own `http2` module (nghttp2 inside), cleartext with prior
// knowledge (h2c), for stampede's HTTP/2 accounting tests. Every request is read whole, then
// (counting streams from 1 over all connections):
//   every REFUSE-th stream is reset with REFUSED_STREAM before any answer (not processed),
//   every RESET-th gets its 200 head and then RST_STREAM INTERNAL_ERROR (a cut body),
//   every GOAWAY-th is answered and its connection then sent a GOAWAY (graceful) naming the
//   highest stream it has begun,
//   the others get 200 and a body of `?size=N` bytes (default 100).
// Usage: node h2_node.js REFUSE RESET GOAWAY (0 = never). Prints its port, then one line per
// stream: `answered BYTES_IN`, `refused`, `reset`.
const http2 = require('http2');
const [refuse, reset, goaway] = process.argv.slice(2, 5).map((x) => parseInt(x || '0', 10));
const every = (k, n) => k > 0 && n % k === 0;
let n = 0;
const server = http2.createServer();
server.on('stream', (stream, headers) => {
  n += 1;
  // The GOAWAY names the highest stream the session has begun: every one of them is answered.
  stream.session.maxId = Math.max(stream.session.maxId || 0, stream.id);
  const i = n;
  let bytes = 0;
  stream.on('data', (d) => { bytes += d.length; });
  stream.on('error', () => {});
  const size = parseInt(new URL(headers[':path'], 'http://x').searchParams.get('size') || '100', 10);
  if (every(refuse, i)) {
    stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    process.stdout.write('refused\n');
    return;
  }
  stream.on('end', () => {
    if (every(reset, i)) {
      stream.respond({ ':status': 200, 'content-length': String(size) });
      stream.write(Buffer.alloc(Math.min(size, 10), 'x'), () => {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      });
      process.stdout.write('reset\n');
      return;
    }
    stream.respond({ ':status': 200, 'content-length': String(size) });
    stream.end(Buffer.alloc(size, 'y'));
    process.stdout.write(`answered ${bytes}\n`);
    if (every(goaway, i)) {
      stream.session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.session.maxId);
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`port ${server.address().port}\n`);
});
