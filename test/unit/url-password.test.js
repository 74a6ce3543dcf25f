// One definition of "a password inside a URL": the log redactor, the secret values taken from the
// environment, keel init's refusal to write secrets into unit files, and doctor's audit all use it,
// so a credential one of them catches is caught by every one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hasUrlPassword, replaceUrlPasswords, urlPasswords } from '../../dist/config/url-password.js';
import { createRedactor, REDACTED } from '../../dist/observe/redact.js';
import { secretValues } from '../../dist/config/environment.js';

const WITH = [
  ['postgres://app:s3cret-pw@db.internal:5432/app', ['s3cret-pw']],
  ['redis://:only-pass@127.0.0.1:6379/0', ['only-pass']],
  ['amqp+ssl://u:p%40ss@mq/vhost', ['p%40ss']],
  ['--proxy /api=http://a:first1@h1,http://c:second2@h2', ['first1', 'second2']],
  ['{"msg":"connect","url":"mysql://root:hunter22@db"}', ['hunter22']],
];
const WITHOUT = ['http://user@host/', 'mailto:someone@example.com', 'http://host:8080/path@x', 'no url here', 'ssh user@host', ''];

describe('URL passwords', () => {
  for (const [text, passwords] of WITH) {
    test(`found and replaced in ${text}`, () => {
      assert.equal(hasUrlPassword(text), true);
      assert.deepEqual(urlPasswords(text), passwords);
      const replaced = replaceUrlPasswords(text, REDACTED);
      for (const password of passwords) assert.ok(!replaced.includes(password), replaced);
      // Everything but the password stays: the user, the host, the rest of the line.
      assert.equal(replaced.split(REDACTED).length - 1, passwords.length);
      assert.equal(createRedactor([])(text), replaced);
      // Repeated calls give the same answer (a global expression's lastIndex must not leak between calls).
      assert.equal(hasUrlPassword(text), true);
    });
  }
  for (const text of WITHOUT) {
    test(`none in ${JSON.stringify(text)}`, () => {
      assert.equal(hasUrlPassword(text), false);
      assert.deepEqual(urlPasswords(text), []);
      assert.equal(createRedactor([])(text), text);
    });
  }
  test('the environment gives up the password of a URL anywhere in a value, under any name', () => {
    const found = secretValues({ CACHE: 'redis://:only-pass@127.0.0.1:6379/0', UPSTREAMS: 'http://a:first1@h1 http://c:second2@h2', HOME: '/root' });
    assert.deepEqual(found.sort(), ['first1', 'only-pass', 'second2']);
  });
});
