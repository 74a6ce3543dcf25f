// Pure parts of the managed upstreams (--run): output lines, log levels, restart backoff, command filling.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter, levelOfLine } from '../../dist/supervisor/upstream-output.js';
import { RestartBackoff } from '../../dist/supervisor/restart-backoff.js';
import { fillCommand, programName } from '../../dist/supervisor/upstream-address.js';

function split(chunks, max) {
  const lines = [];
  const splitter = new LineSplitter((line) => lines.push(line), max);
  for (const chunk of chunks) splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  splitter.end();
  return lines;
}

test('output is logged in lines, not in the chunks the pipe delivered', () => {
  assert.deepEqual(split(['one\ntw', 'o\nthr', 'ee\n']), ['one', 'two', 'three']);
  assert.deepEqual(split(['a\r\nb\r\n']), ['a', 'b'], 'CRLF ends a line too');
  assert.deepEqual(split(['no newline at the end']), ['no newline at the end'], 'the last line is kept at the end of the stream');
  assert.deepEqual(split(['\n\n']), ['', '']);
});

test('a UTF-8 character split across two chunks stays whole', () => {
  const bytes = Buffer.from('héllo\n');
  assert.deepEqual(split([bytes.subarray(0, 2), bytes.subarray(2)]), ['héllo']);
});

test('a runaway line is cut at the cap, with or without a newline', () => {
  assert.deepEqual(split(['abcdefghij\n'], 4), ['abcd', 'efgh', 'ij']);
  assert.deepEqual(split(['abcdefghij'], 4), ['abcd', 'efgh', 'ij']);
  const lines = [];
  const splitter = new LineSplitter((line) => lines.push(line), 4);
  splitter.push(Buffer.from('abcdefghij'));
  assert.deepEqual(lines, ['abcd', 'efgh'], 'held back: at most the cap, before the stream ends');
});

test("a line's level: the program's own level word, else by stream", () => {
  assert.equal(levelOfLine('[2026-01-01 10:00:00 +0000] [42] [INFO] Booting worker with pid: 43', 'stderr'), 'info');
  assert.equal(levelOfLine('[2026-01-01 10:00:00 +0000] [42] [ERROR] Exception in worker process', 'stderr'), 'error');
  assert.equal(levelOfLine('[2026-01-01 10:00:00 +0000] [42] [CRITICAL] WORKER TIMEOUT (pid:43)', 'stderr'), 'fatal');
  assert.equal(levelOfLine('WARNING:root:disk almost full', 'stdout'), 'warn');
  assert.equal(levelOfLine('Traceback (most recent call last):', 'stderr'), 'warn');
  assert.equal(levelOfLine('listening on 127.0.0.1:5000', 'stdout'), 'info');
  assert.equal(levelOfLine('user typed ERRORS in a form', 'stdout'), 'info');
});

test('restart delays double from 0.1 s to 30 s, and start again after a long run', () => {
  const backoff = new RestartBackoff();
  const delays = Array.from({ length: 12 }, () => backoff.next(50));
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000]);
  assert.equal(backoff.next(30_000), 100, 'an instance that stayed up 30 s is forgiven');
  assert.equal(backoff.next(10), 200);
});

test('the command gets its port or socket, and a short name for the log', () => {
  assert.equal(fillCommand('gunicorn -b 127.0.0.1:{port} app:app', { port: 4100, socket: null, target: '' }), 'gunicorn -b 127.0.0.1:4100 app:app');
  assert.equal(fillCommand('gunicorn -b unix:{socket} app:app', { port: null, socket: '/tmp/keel-run-x/a.sock', target: '' }), 'gunicorn -b unix:/tmp/keel-run-x/a.sock app:app');
  assert.equal(programName('/usr/bin/gunicorn -w 2 -b 127.0.0.1:{port} app:app'), 'gunicorn');
  assert.equal(programName('FLASK_DEBUG=0 exec python3 -m http.server {port}'), 'python3');
  assert.equal(programName('./bin/server --port {port}'), 'server');
});

test('the start check: any HTTP answer counts; silence, refusal and non-HTTP bytes do not', async (t) => {
  const { createServer } = await import('node:net');
  const { answersHttp } = await import('../../dist/supervisor/wait-listening.js');
  const { freePort } = await import('../helpers/ports.js');
  const serve = (onConnection) =>
    new Promise((resolve) => {
      const server = createServer(onConnection).listen(0, '127.0.0.1', () => resolve(server));
      t.after(() => server.close());
    });
  const seen = [];
  const http404 = await serve((socket) =>
    socket.once('data', (d) => {
      seen.push(String(d).split('\r\n')[0]);
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
    }),
  );
  assert.equal(await answersHttp({ port: http404.address().port, urlPath: '/healthz' }, 2000), true);
  assert.deepEqual(seen, ['HEAD /healthz HTTP/1.1']);
  const silent = await serve((socket) => t.after(() => socket.destroy()));
  assert.equal(await answersHttp({ port: silent.address().port, urlPath: '/' }, 200), false, 'accepted but no answer: a master whose workers have not loaded the app');
  const notHttp = await serve((socket) => socket.end('SSH-2.0-OpenSSH\r\n'));
  assert.equal(await answersHttp({ port: notHttp.address().port, urlPath: '/' }, 2000), false);
  assert.equal(await answersHttp({ port: await freePort(), urlPath: '/' }, 2000), false, 'refused');
});
