// CPU a Node client spends per request against an upstream that closes every connection (Gunicorn's
// sync workers do): the floor under keel's --proxy/--run rows with such an upstream. Four requests
// in flight for 1 s of warm-up, then SECONDS measured; prints user and system µs per request.
//
//   node bench/upstream-connection-cost.js raw|http|undici PORT [SECONDS]
//
// raw: net.connect, one request with Connection: close, read to EOF (no HTTP parsing: the floor);
// http: node:http with a keep-alive agent; undici: a Pool, as keel's proxy uses.
import http from 'node:http';
import net from 'node:net';
import { Pool } from 'undici';

const [mode, portText, secondsText] = process.argv.slice(2);
const port = Number(portText);
const seconds = Number(secondsText ?? 5);
const IN_FLIGHT = 4;
if (!['raw', 'http', 'undici'].includes(mode) || !port) {
  process.stderr.write('usage: node bench/upstream-connection-cost.js raw|http|undici PORT [SECONDS]\n');
  process.exit(2);
}

const request = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
const agent = new http.Agent({ keepAlive: true });
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: IN_FLIGHT });
let done = 0;
let stopped = false;

const clients = {
  raw(next) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('connect', () => socket.end(request));
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => {
      done++;
      next();
    });
  },
  http(next) {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          done++;
          next();
        });
      })
      .on('error', next);
  },
  undici(next) {
    pool.request({ path: '/', method: 'GET' }).then(async ({ body }) => {
      for await (const _ of body);
      done++;
      next();
    }, next);
  },
};

const one = clients[mode];
const loop = () => {
  if (!stopped) one(loop);
};
for (let i = 0; i < IN_FLIGHT; i++) loop();
setTimeout(() => {
  const cpu = process.cpuUsage();
  const start = done;
  setTimeout(() => {
    const used = process.cpuUsage(cpu);
    const n = done - start;
    stopped = true;
    console.log(`${mode}: ${n} requests in ${seconds} s, ${(used.user / n).toFixed(0)} µs user + ${(used.system / n).toFixed(0)} µs system per request`);
    setTimeout(() => process.exit(0), 200).unref();
  }, seconds * 1000);
}, 1000);
