// slow_clients.mjs — many slow ("slowloris") HTTP clients on loopback, for
// tests/cli/test_server_slowloris.sh (defect D3).
//
//   node tests/cli/slow_clients.mjs PORT COUNT MODE SECONDS [INTERVAL_MS] [FROM]
//
// Opens COUNT connections to 127.0.0.1:PORT (in batches, so the listen
// backlog never overflows) and keeps them alive, never finishing a request:
//   MODE headers  sends a partial request ("GET /api/health HTTP/1.1", Host,
//                 and the start of one more header), then one more header byte
//                 to every connection each INTERVAL_MS (default 2000).
//   MODE body     sends the complete headers of a POST /api/generate with
//                 Content-Type: application/json and Content-Length: 1000000,
//                 then one body byte to every connection each INTERVAL_MS.
// It prints one line a second, "status connected=N open=N closed=N reset=N
// failed=N": connected = connections that were established; open = those
// still open; closed = those the server closed (FIN or reset) before we
// stopped; reset = of those, by reset; failed = connections never
// established. The line "ramped ..." comes once every connection has either
// been established or failed. After SECONDS (or on SIGTERM/SIGINT) it closes
// every connection, prints "final ..." and exits: it stops by itself.
// FROM (optional) is the local address to connect from, e.g. 127.0.0.2 (any
// 127.x.y.z is loopback on Linux); default: the system's choice (127.0.0.1).
import net from 'node:net';

const [port, count, mode, seconds, intervalArg, from] = process.argv.slice(2);
const PORT = Number(port);
const COUNT = Number(count);
const SECONDS = Number(seconds);
const INTERVAL = Number(intervalArg || 2000);
if (!PORT || !COUNT || !['headers', 'body'].includes(mode) || !SECONDS) {
  console.error('usage: node slow_clients.mjs PORT COUNT headers|body SECONDS [INTERVAL_MS] [FROM]');
  process.exit(2);
}
const HOST = '127.0.0.1';
const first =
  mode === 'headers'
    ? `GET /api/health HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nUser-Agent: slow-client\r\nX-Slow: `
    : `POST /api/generate HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nUser-Agent: slow-client\r\n` +
      'Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{';
const trickle = mode === 'headers' ? 'a' : ' ';

const sockets = new Set();
let connected = 0, closed = 0, reset = 0, failed = 0, settled = 0, stopping = false, ramped = false;
const line = (what) =>
  console.log(`${what} connected=${connected} open=${sockets.size} closed=${closed} reset=${reset} failed=${failed}`);

function open() {
  const s = net.connect({ host: HOST, port: PORT, ...(from ? { localAddress: from } : {}) });
  let up = false, wasReset = false;
  s.setNoDelay(true);
  s.on('connect', () => {
    up = true;
    connected++;
    settled++;
    sockets.add(s);
    s.write(first);
  });
  s.on('data', () => {}); // an answer (e.g. 408/413) is read and ignored
  s.on('error', (e) => {
    if (e.code === 'ECONNRESET' || e.code === 'EPIPE') wasReset = true;
  });
  s.on('close', () => {
    if (!up) {
      failed++;
      settled++;
      return;
    }
    sockets.delete(s);
    if (!stopping) {
      closed++;
      if (wasReset) reset++;
    }
  });
}

// Open in batches of 50 every 50 ms.
let started = 0;
const opener = setInterval(() => {
  for (let i = 0; i < 50 && started < COUNT; i++, started++) open();
  if (started >= COUNT) clearInterval(opener);
}, 50);

const ticker = setInterval(() => {
  for (const s of sockets) if (!s.destroyed && s.writable) s.write(trickle);
}, INTERVAL);

const reporter = setInterval(() => {
  if (!ramped && settled >= COUNT) {
    ramped = true;
    line('ramped');
  }
  line('status');
}, 1000);

function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(opener);
  clearInterval(ticker);
  clearInterval(reporter);
  line('final');
  for (const s of sockets) s.destroy();
  setTimeout(() => process.exit(0), 200);
}
setTimeout(stop, SECONDS * 1000);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
