// The watchdog table: what the main thread records for every request must read back, field for
// field, in the watchdog thread, whatever the client sent.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WatchdogTable, SLOT_BUSY, SLOT_FREE } from '../../dist/worker/watchdog-table.js';

function readBack(table, slot) {
  const { bytes, lengths, slotBytes, states, starts } = table.shared;
  const offset = slot * slotBytes;
  const text = Buffer.from(bytes).toString('latin1', offset, offset + new Int32Array(lengths)[slot]);
  return { fields: text.split('\t').slice(0, 7), state: new Int32Array(states)[slot], start: new Float64Array(starts)[slot] };
}

const base = { startTime: 1_700_000_000_123, id: 'abc-1', clientAddress: '127.0.0.1', method: 'GET', url: '/x?y=1', httpVersion: '1.1', userAgent: 'curl/8', referrer: '' };

describe('watchdog table', () => {
  test('a recorded request reads back field for field, and its slot frees', () => {
    const table = new WatchdogTable();
    const slot = table.record(base);
    assert.ok(slot >= 0);
    const { fields, state, start } = readBack(table, slot);
    assert.deepEqual(fields, ['abc-1', '127.0.0.1', 'GET', '/x?y=1', '1.1', 'curl/8', '']);
    assert.equal(state, SLOT_BUSY);
    assert.equal(start, base.startTime);
    assert.equal(table.release(slot), false);
    assert.equal(readBack(table, slot).state, SLOT_FREE);
  });

  test('latin1 bytes survive; a tab inside a field cannot shift the fields', () => {
    const table = new WatchdogTable();
    const slot = table.record({ ...base, url: '/caf\u00e9', userAgent: 'evil\tagent' });
    assert.deepEqual(readBack(table, slot).fields, ['abc-1', '127.0.0.1', 'GET', '/caf\u00e9', '1.1', 'evil agent', '']);
  });

  test('a request larger than a slot is cut at the slot, not written into the next one', () => {
    const table = new WatchdogTable();
    const first = table.record({ ...base, url: `/${'a'.repeat(5000)}` });
    const second = table.record(base);
    const { fields } = readBack(table, first);
    assert.equal(fields[0], 'abc-1');
    assert.ok(fields[3].startsWith('/aaaa') && fields[3].length < table.shared.slotBytes);
    assert.deepEqual(readBack(table, second).fields, ['abc-1', '127.0.0.1', 'GET', '/x?y=1', '1.1', 'curl/8', '']);
  });

  test('a full table records nothing rather than overwriting a slot in use', () => {
    const table = new WatchdogTable();
    const slots = new Set();
    for (let i = 0; i < table.shared.slots; i++) slots.add(table.record(base));
    assert.equal(slots.size, table.shared.slots);
    assert.equal(table.record(base), -1);
  });
});
