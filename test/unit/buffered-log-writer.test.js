// The access log's writer: lines arrive whole, in order and byte for byte, whether they are written
// by the timer, by a full batch, while an earlier batch is still being written, or at close.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { BufferedLogWriter } from '../../dist/observe/buffered-log-writer.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-log-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const fresh = () => join(dir, `access-${++files}.log`);
const line = (i) => `127.0.0.1 - - "GET /item/${i} HTTP/1.1" 200 ${i % 997} "-" "agent ${'x'.repeat(i % 50)}"\n`;

describe('BufferedLogWriter', () => {
  test('a few lines reach the file after the flush interval, not before', async () => {
    const path = fresh();
    const writer = new BufferedLogWriter(path);
    writer.write(line(1));
    writer.write(line(2));
    assert.equal(readFileSync(path, 'latin1'), '', 'nothing is written per line');
    await waitFor(() => readFileSync(path, 'latin1') === line(1) + line(2), { timeout: 5000, interval: 10, what: 'the timer to flush two lines' });
    writer.close();
  });

  test('a burst several times the batch size arrives whole and in order, while earlier batches are still being written', async () => {
    const path = fresh();
    const writer = new BufferedLogWriter(path);
    // Written in one synchronous turn: the first full batch starts an async write, and every later
    // line has to wait in the other buffer, which must grow rather than drop or overwrite anything.
    let expected = '';
    for (let i = 0; i < 6000; i++) {
      expected += line(i);
      writer.write(line(i));
    }
    assert.ok(expected.length > 4 * 64 * 1024, `the burst (${expected.length} bytes) is several batches`);
    await waitFor(() => readFileSync(path, 'latin1').length === expected.length, { timeout: 5000, interval: 10, what: 'every byte of the burst' });
    assert.equal(readFileSync(path, 'latin1'), expected);
    writer.close();
  });

  test('into a pipe nobody is reading yet: the batch held by the blocked write is not overwritten by later lines', async () => {
    // The pipe fills at 64 KiB and the writer's fs.write blocks in the thread pool, holding its batch,
    // while this turn goes on writing lines; they must go into the other buffer.
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = new BufferedLogWriter(fifo);
    let expected = '';
    for (let i = 0; i < 6000; i++) {
      expected += line(i);
      writer.write(line(i));
    }
    const got = [];
    let total = 0;
    const chunk = Buffer.alloc(64 * 1024);
    try {
      await waitFor(
        () => {
          try {
            const n = readSync(reader, chunk);
            got.push(Buffer.from(chunk.subarray(0, n)));
            total += n;
          } catch (err) {
            if (err.code !== 'EAGAIN') throw err;
          }
          return total >= expected.length;
        },
        { timeout: 10_000, interval: 1, what: 'every byte through the pipe' },
      );
      assert.equal(Buffer.concat(got).toString('latin1'), expected);
    } finally {
      // The reader first: a writer closing onto a full pipe that someone still holds open would block.
      closeSync(reader);
      writer.close();
    }
  });

  test('close writes what is pending at once', () => {
    const path = fresh();
    const writer = new BufferedLogWriter(path);
    writer.write(line(7));
    writer.close();
    assert.equal(readFileSync(path, 'latin1'), line(7));
    writer.write(line(8));
    assert.equal(readFileSync(path, 'latin1'), line(7), 'a closed writer writes nothing more');
  });

  test('every byte value a line may carry is written as is (latin1, no UTF-8 re-encoding)', () => {
    const path = fresh();
    const writer = new BufferedLogWriter(path);
    const text = 'escaped \\x22 and \x7e and \xe9\n';
    writer.write(text);
    writer.close();
    assert.deepEqual(readFileSync(path), Buffer.from(text, 'latin1'));
  });

  test('reopen after the file was moved: pending lines go to the old file, later ones to a new file', () => {
    const path = fresh();
    const moved = `${path}.1`;
    const writer = new BufferedLogWriter(path);
    writer.write(line(1));
    renameSync(path, moved);
    writer.reopen();
    writer.write(line(2));
    writer.close();
    assert.equal(readFileSync(moved, 'latin1'), line(1));
    assert.equal(readFileSync(path, 'latin1'), line(2));
  });
});
