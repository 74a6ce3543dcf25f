// Path traversal against the static route: every payload of test/fixtures/traversal-payloads.txt,
// sent byte for byte on a raw socket (no client normalises it) under a prefixed route and under a
// route at /, must answer 400 or 404 and never carry a secret planted beside the root (reached by
// a symlink inside the root too), a dotfile's content, or /etc/passwd.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT as REPO, startKeel, tempDir } from '../helpers/keel.js';
import { parseResponses, rawExchange } from '../helpers/raw-client.js';

const SECRET = `outside-${randomBytes(16).toString('hex')}`;
const DOTFILE = `dotfile-${randomBytes(16).toString('hex')}`;

const base = tempDir('keel-traversal-');
const root = join(base, 'public');
mkdirSync(join(root, 'sub'), { recursive: true });
mkdirSync(join(root, '.git'), { recursive: true });
mkdirSync(join(root, '.well-known'), { recursive: true });
writeFileSync(join(base, 'secret.txt'), SECRET);
writeFileSync(join(root, 'index.html'), 'public index\n');
writeFileSync(join(root, 'sub', 'index.html'), 'sub index\n');
writeFileSync(join(root, '.env'), DOTFILE);
writeFileSync(join(root, 'sub', '.env'), DOTFILE);
writeFileSync(join(root, '.git', 'config'), DOTFILE);
writeFileSync(join(root, '.well-known', '.env'), DOTFILE);
symlinkSync('../secret.txt', join(root, 'link'));
symlinkSync('..', join(root, 'updir'));

const payloads = readFileSync(join(REPO, 'test', 'fixtures', 'traversal-payloads.txt'), 'utf8')
  .split('\n')
  .filter((line) => line !== '' && !line.startsWith('#'))
  .map((line) => line.replaceAll('SECRET', 'secret.txt'));

describe('path traversal payloads against --static /assets=DIR and --static /=DIR', () => {
  let keel;
  before(async () => {
    keel = await startKeel(null, ['--static', `/assets=${root}`, '--static', `/=${root}`], { workers: 2 });
  });
  after(() => keel?.stop());

  test('the payload list is big enough to mean something', () => {
    assert.ok(payloads.length >= 60, `${payloads.length} payloads`);
  });

  test('the secret is really there to find: the planted files exist and the route serves the root', async () => {
    const { data } = await rawExchange(keel.port, 'GET /assets/sub/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const [res] = parseResponses(data);
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'sub index\n');
    assert.equal(readFileSync(join(root, 'link'), 'utf8'), SECRET);
    assert.equal(readFileSync(join(root, 'updir', 'secret.txt'), 'utf8'), SECRET);
  });

  for (const prefix of ['/assets/', '/']) {
    test(`every payload under ${prefix} answers 400 or 404, never the secret, a dotfile or /etc/passwd`, async () => {
      const failures = [];
      for (const payload of payloads) {
        const target = `${prefix}${payload}`;
        const head = Buffer.concat([Buffer.from('GET ', 'latin1'), Buffer.from(target, 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'latin1')]);
        const { data, timedOut } = await rawExchange(keel.port, head, { timeout: 5000 });
        const text = data.toString('latin1');
        const [res] = parseResponses(data);
        if (timedOut) failures.push(`${target}: no answer`);
        else if (!res) failures.push(`${target}: no parseable response`);
        else if (res.status !== 400 && res.status !== 404) failures.push(`${target}: ${res.status}`);
        if (text.includes(SECRET) || text.includes(DOTFILE) || /root:.*:0:0:/.test(text)) failures.push(`${target}: LEAKED`);
      }
      assert.deepEqual(failures, []);
    });
  }
});
