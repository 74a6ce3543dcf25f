// The static route's open-file cache against a real directory: memory bound, entries shared by
// concurrent loads, changes seen after the validity window, symlinked siblings out of the root
// ignored, FIFOs never opened.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileCache } from '../../dist/front/static/file-cache.js';

const base = mkdtempSync(join(tmpdir(), 'keel-file-cache-'));
after(() => rmSync(base, { recursive: true, force: true }));
const root = join(base, 'root');
mkdirSync(join(root, 'dir'), { recursive: true });
writeFileSync(join(base, 'outside.gz'), 'outside');
for (let i = 0; i < 20; i++) writeFileSync(join(root, `f${i}.bin`), Buffer.alloc(10_000, i));
writeFileSync(join(root, 'page.html'), 'page');
symlinkSync('../outside.gz', join(root, 'page.html.gz'));
writeFileSync(join(root, 'a.txt'), 'one');

function cache(options = {}) {
  return new FileCache({
    root,
    rootReal: realpathSync(root),
    maxFile: 64 * 1024,
    maxBytes: 16 * 1024 * 1024,
    maxEntries: 1000,
    validMs: 1000,
    describe: () => ({ type: 'text/plain', cacheControl: 'no-cache' }),
    ...options,
  });
}

const settle = (value) => Promise.resolve(value);

describe('FileCache', () => {
  test('kinds: file with its bytes and headers, directory, missing', async () => {
    const c = cache();
    const file = await settle(c.get('a.txt'));
    assert.equal(file.kind, 'file');
    assert.equal(file.identity.body.toString(), 'one');
    assert.equal(file.identity.full['content-length'], '3');
    assert.equal((await settle(c.get('dir'))).kind, 'dir');
    assert.equal((await settle(c.get('nope'))).kind, 'missing');
    assert.equal((await settle(c.get('a.txt/x'))).kind, 'missing');
    // A fresh entry comes back at once, not as a promise.
    assert.ok(!(c.get('a.txt') instanceof Promise));
  });

  test('the memory bound holds: bodies beyond maxBytes are evicted, and evicted files load again', async () => {
    const c = cache({ maxBytes: 50_000 });
    for (let i = 0; i < 20; i++) await settle(c.get(`f${i}.bin`));
    assert.ok(c.stats.bytes <= 50_000, `${c.stats.bytes} bytes held`);
    assert.ok(c.stats.entries < 20);
    const again = await settle(c.get('f0.bin'));
    assert.equal(again.identity.body[0], 0);
    assert.equal(again.identity.body.length, 10_000);
  });

  test('files over maxFile keep no body; the entry bound counts missing paths too', async () => {
    const c = cache({ maxFile: 1000, maxEntries: 5 });
    assert.equal((await settle(c.get('f1.bin'))).identity.body, null);
    for (let i = 0; i < 50; i++) await settle(c.get(`missing-${i}`));
    assert.ok(c.stats.entries <= 5);
  });

  test('concurrent gets of an unknown path share one load', () => {
    const c = cache();
    const first = c.get('f2.bin');
    const second = c.get('f2.bin');
    assert.ok(first instanceof Promise);
    assert.equal(first, second);
    return first;
  });

  test('a change is seen once the validity window has passed, not before', async () => {
    const c = cache({ validMs: 500 });
    writeFileSync(join(root, 'b.txt'), 'before');
    const before = await settle(c.get('b.txt'));
    writeFileSync(join(root, 'b.txt'), 'after!!');
    const future = new Date(Date.now() + 10_000);
    utimesSync(join(root, 'b.txt'), future, future);
    assert.equal((await settle(c.get('b.txt'))).identity.body.toString(), 'before');
    await sleep(600);
    const after = await settle(c.get('b.txt'));
    assert.equal(after.identity.body.toString(), 'after!!');
    assert.notEqual(after.identity.etag, before.identity.etag);
    // Unchanged files keep their representation (bytes and headers) across checks.
    const a1 = await settle(c.get('a.txt'));
    await sleep(600);
    assert.equal((await settle(c.get('a.txt'))).identity, a1.identity);
  });

  test('a precompressed sibling that is a symlink out of the root is ignored', async () => {
    const entry = await settle(cache().get('page.html'));
    assert.equal(entry.kind, 'file');
    assert.equal(entry.gzip, null);
    assert.equal(entry.identity.full.vary, undefined);
  });

  test('a FIFO is missing and never opened (opening one would block a thread)', async () => {
    execFileSync('mkfifo', [join(root, 'pipe.txt')]);
    assert.equal((await settle(cache().get('pipe.txt'))).kind, 'missing');
  });
});
