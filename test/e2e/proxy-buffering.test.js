// Buffering in front of Gunicorn's sync worker, which serves one request at a time: a client that
// sends its body slowly, or reads its response slowly, must not hold that worker (Gunicorn's
// deployment guide asks for a buffering proxy for this reason). With buffering off the same client
// does hold it, which is what shows the default at work. Bodies arrive whole and plainly framed,
// small ones from memory, large ones through an unlinked temporary file that is gone afterwards.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { once } from 'node:events';
import { connect } from 'node:net';
import { request } from 'undici';
import { startKeel } from '../helpers/keel.js';
import { startFlaskGunicorn } from '../helpers/gunicorn.js';
import { waitFor } from '../helpers/wait.js';

/** A POST whose head and first byte go out now; the rest of its 8-byte body when finish() is called. */
function slowUpload(port) {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  socket.on('data', (d) => (data += d));
  socket.on('error', () => {});
  const closed = new Promise((r) => socket.once('close', r));
  socket.write('POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: 8\r\n\r\nx');
  return {
    async finish() {
      // write, not end: a half-closed request is one Node's server gives up on.
      socket.write('1234567');
      await waitFor(() => data.includes('\r\n\r\n') && data.includes('}'), { timeout: 10_000, what: 'the slow upload to be answered' });
      return data;
    },
    destroy() {
      socket.destroy();
      return closed;
    },
  };
}

/** GET / answered within `ms`, or 'held' when it is not (the sync worker is busy elsewhere). */
async function answeredWithin(url, ms) {
  try {
    const res = await request(`${url}/`, { headersTimeout: ms, bodyTimeout: ms });
    return `${res.statusCode} ${await res.body.text()}`;
  } catch (err) {
    if (err.code === 'UND_ERR_HEADERS_TIMEOUT') return 'held';
    throw err;
  }
}

async function echo(url, body, headers = {}) {
  const res = await request(`${url}/echo`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', ...headers } });
  assert.equal(res.statusCode, 200);
  return res.body.json();
}

/** A GET of ?mb= MiB whose reader stops after the head: read() takes the rest and returns its size and digest. */
async function stalledDownload(port, mb) {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const chunks = [];
  socket.on('data', (c) => chunks.push(c));
  socket.write(`GET /bytes?mb=${mb} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  await waitFor(() => Buffer.concat(chunks).includes('\r\n\r\n'), { timeout: 10_000, what: 'the download to start' });
  // Stops reading: the kernel's buffers fill, and then keel's side of the connection.
  socket.pause();
  return {
    async read() {
      // AbortSignal.timeout's timer does not hold the process: a plain setTimeout kept this file
      // running 30 s after its last test.
      const closed = once(socket, 'close', { signal: AbortSignal.timeout(30_000) });
      socket.resume();
      await closed;
      const all = Buffer.concat(chunks);
      const body = all.subarray(all.indexOf('\r\n\r\n') + 4);
      return { length: body.length, sha256: createHash('sha256').update(body).digest('hex') };
    },
    destroy() {
      socket.destroy();
    },
  };
}

/** Temporary body files a process holds open (they are unlinked, so only /proc shows them). */
function bodyFilesOpen(pid) {
  let fds;
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return 0;
  }
  return fds.filter((fd) => {
    try {
      return /keel-(body|response)-/.test(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      return false;
    }
  }).length;
}

describe('proxy buffering in front of a one-worker Gunicorn', () => {
  let gunicorn;
  let buffering;
  let streaming;
  let bounded;
  before(async () => {
    // One sync worker: whoever holds it holds the whole app.
    gunicorn = await startFlaskGunicorn({ workers: 1 });
    [buffering, streaming, bounded] = await Promise.all([
      startKeel(null, ['--proxy', `/=${gunicorn.url}`], { workers: 1 }),
      startKeel(null, ['--proxy', `/=${gunicorn.url}`, '--proxy-request-buffering', 'off', '--proxy-response-buffer', '0'], { workers: 1 }),
      startKeel(null, ['--proxy', `/=${gunicorn.url}`, '--proxy-response-buffer', '1m'], { workers: 1 }),
    ]);
  });
  after(async () => {
    await buffering?.stop();
    await streaming?.stop();
    await bounded?.stop();
    await gunicorn?.stop();
  });

  // Larger than every buffer between Gunicorn and a reader that stopped (socket buffers grow to a
  // few MiB here), so without keel's help Gunicorn's worker could not finish writing it.
  const MB = 24;
  const expected = { length: MB * 1024 * 1024, sha256: createHash('sha256').update(Buffer.alloc(MB * 1024 * 1024, 'k')).digest('hex') };

  it('a client that stops reading a large response does not hold the worker; it gets every byte when it reads on', async () => {
    const download = await stalledDownload(buffering.port, MB);
    try {
      assert.equal(await answeredWithin(buffering.url, 10_000), '200 Hello from Flask\n');
      assert.deepEqual(await download.read(), expected);
    } finally {
      download.destroy();
    }
    const [worker] = buffering.workerPids();
    await waitFor(() => bodyFilesOpen(worker) === 0, { timeout: 5000, what: 'the response spool file to be closed' });
  });

  /** A stalled download through `keel` holds the one worker; once read, it arrives whole and the worker serves again. */
  async function assertHeldByStalledDownload(keel) {
    const download = await stalledDownload(keel.port, MB);
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await answeredWithin(keel.url, 1500), 'held');
      assert.deepEqual(await download.read(), expected);
    } finally {
      download.destroy();
    }
    await waitFor(async () => (await answeredWithin(keel.url, 3000)) === '200 Hello from Flask\n', { timeout: 15_000, what: 'Gunicorn to serve again' });
  }

  it('with --proxy-response-buffer 0 the same client holds the worker until it reads', () => assertHeldByStalledDownload(streaming));

  it('past --proxy-response-buffer the upstream waits again: what keel holds for one client is bounded', () => assertHeldByStalledDownload(bounded));

  it('a client that leaves with a held response leaves no file behind', async () => {
    const download = await stalledDownload(buffering.port, MB);
    const [worker] = buffering.workerPids();
    // The spool starts once the client is 256 KiB behind.
    await waitFor(() => bodyFilesOpen(worker) === 1, { timeout: 10_000, what: 'a response spool file' });
    download.destroy();
    await waitFor(() => bodyFilesOpen(worker) === 0, { timeout: 5000, what: 'the response spool file to be closed' });
    assert.equal(await answeredWithin(buffering.url, 10_000), '200 Hello from Flask\n');
  });

  it('a client sending its body slowly does not hold the worker: other requests are answered meanwhile', async () => {
    const upload = slowUpload(buffering.port);
    try {
      // Well past the moment the head and first byte reached keel.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await answeredWithin(buffering.url, 5000), '200 Hello from Flask\n');
      assert.equal(await answeredWithin(buffering.url, 5000), '200 Hello from Flask\n');
      const answer = await upload.finish();
      assert.match(answer, /^HTTP\/1\.1 200 /);
      const echoed = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
      assert.equal(echoed.length, 8);
      assert.equal(echoed.sha256, createHash('sha256').update('x1234567').digest('hex'));
    } finally {
      await upload.destroy();
    }
  });

  it('with --proxy-request-buffering off, the same client holds the worker until its body is done', async () => {
    const upload = slowUpload(streaming.port);
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await answeredWithin(streaming.url, 1500), 'held');
      await upload.finish();
    } finally {
      await upload.destroy();
    }
    // Once the upload ends, the worker serves again (the held request was given up on by the client).
    await waitFor(async () => (await answeredWithin(streaming.url, 3000)) === '200 Hello from Flask\n', { timeout: 15_000, what: 'Gunicorn to serve again' });
  });

  it('a chunked body reaches the upstream whole, with a Content-Length instead of chunked framing', async () => {
    const body = randomBytes(10_000);
    const echoed = await echo(buffering.url, (async function* () {
      yield body.subarray(0, 4000);
      yield body.subarray(4000);
    })());
    assert.equal(echoed.length, body.length);
    assert.equal(echoed.sha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(echoed.content_length, String(body.length));
    assert.equal(echoed.transfer_encoding, null);
  });

  it('a body larger than the memory buffer goes through a temporary file, arrives intact, and the file is gone after', async () => {
    const body = randomBytes(600 * 1024);
    for (const framing of ['length', 'chunked']) {
      const echoed = await echo(
        buffering.url,
        framing === 'length' ? body : (async function* () {
          for (let i = 0; i < body.length; i += 50_000) yield body.subarray(i, i + 50_000);
        })(),
      );
      assert.equal(echoed.length, body.length, framing);
      assert.equal(echoed.sha256, createHash('sha256').update(body).digest('hex'), framing);
      assert.equal(echoed.content_length, String(body.length), framing);
    }
    const [worker] = buffering.workerPids();
    assert.ok(worker, 'a worker pid');
    await waitFor(() => bodyFilesOpen(worker) === 0, { timeout: 5000, what: 'the temporary body files to be closed' });
  });

  it('a body over --max-body is still refused with 413 while it arrives', async () => {
    const res = await request(`${buffering.url}/echo`, { method: 'POST', body: randomBytes(2 * 1024 * 1024) }).catch((err) => err);
    // The 413 comes before the upload ends; the client may see it or a reset of its upload.
    if (res.statusCode !== undefined) assert.equal(res.statusCode, 413);
    await waitFor(() => buffering.accessLines().some((l) => / 413 /.test(l) && l.includes('POST /echo')), { timeout: 5000, what: 'the 413 in the access log' });
  });

  describe('when the temporary files cannot be made', () => {
    let broken;
    before(async () => {
      // A temporary directory that does not exist: every temporary file fails to open.
      broken = await startKeel(null, ['--proxy', `/=${gunicorn.url}`], { workers: 1, env: { TMPDIR: '/nonexistent/keel-test-tmp' } });
    });
    after(() => broken?.stop());

    it('a body too large for memory gets 500 with the request ID, and the cause is logged', async () => {
      const res = await request(`${broken.url}/echo`, { method: 'POST', body: randomBytes(600 * 1024) });
      assert.equal(res.statusCode, 500);
      const id = res.headers['x-request-id'];
      assert.doesNotMatch(await res.body.text(), /nonexistent|ENOENT/);
      const logged = await waitFor(() => broken.errorLog().find((l) => l.requestId === id), { timeout: 5000, what: 'the error line' });
      assert.match(logged.msg, /could not buffer the request body/);
      assert.equal(logged.code, 'ENOENT');
      // Small bodies never needed a file.
      assert.equal((await echo(broken.url, Buffer.from('small'))).length, 5);
    });

    it('a response that cannot be held is cut, and the upstream is let go', async () => {
      const download = await stalledDownload(broken.port, MB);
      try {
        await waitFor(() => broken.errorLog().some((l) => /could not hold the response/.test(l.msg)), { timeout: 10_000, what: 'the spool failure in the log' });
        const got = await download.read();
        assert.ok(got.length < expected.length, `a cut response, not ${got.length} bytes`);
      } finally {
        download.destroy();
      }
      assert.equal(await answeredWithin(broken.url, 10_000), '200 Hello from Flask\n');
    });
  });
});
