// The primary's shared services answer a worker's batch of calls: what is ready at once in one
// message, what settles later in its own, failures and unknown services as errors, never a throw.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PrimaryServices } from '../../dist/supervisor/primary-services.js';

test('a batch: sync answers together, async ones on their own, errors as errors', async () => {
  const services = new PrimaryServices();
  services.register('double', (n) => n * 2);
  services.register('later', (n) => new Promise((resolve) => setTimeout(() => resolve(n + 1), 10)));
  services.register('broken', () => {
    throw new Error('broken service');
  });
  services.register('rejects', () => Promise.reject(new Error('rejected')));
  const sent = [];
  services.answer(
    {
      type: 'keel:call',
      calls: [
        { id: 1, service: 'double', args: 21 },
        { id: 2, service: 'later', args: 1 },
        { id: 3, service: 'broken', args: null },
        { id: 4, service: 'nope', args: null },
        { id: 5, service: 'rejects', args: null },
        { id: 6, service: 'double', args: 2 },
      ],
    },
    (reply) => sent.push(reply),
  );
  assert.equal(sent.length, 1, 'everything ready at once goes in one message');
  assert.deepEqual(sent[0].replies, [
    { id: 1, result: 42 },
    { id: 3, error: 'broken service' },
    { id: 4, error: 'no service nope' },
    { id: 6, result: 4 },
  ]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const later = sent.slice(1).flatMap((m) => m.replies).sort((a, b) => a.id - b.id);
  assert.deepEqual(later, [
    { id: 2, result: 2 },
    { id: 5, error: 'rejected' },
  ]);
  assert.ok(sent.every((m) => m.type === 'keel:reply'));
});
