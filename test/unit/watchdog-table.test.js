// The watchdog table: what the main thread records for every request must read back, field for
// field, in the watchdog thread, whatever the client sent.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WatchdogTable, SLOT_BUSY, SLOT_FREE, readSlot } from '../../dist/worker/watchdog-table.js';

/** What the watchdog thread reads back (readSlot, the thread's own reader), and the slot's state. */
function readBack(table, slot) {
  return { fields: readSlot(table.shared, slot), state: new Int32Array(table.shared.states)[slot] };
}

const base = { startTime: 1_700_000_000_123, id: 'abc-1', clientAddress: '127.0.0.1', method: 'GET', url: '/x?y=1', httpVersion: '1.1', userAgent: 'curl/8', referrer: '' };

describe('watchdog table', () => {
  test('a recorded request reads back field for field, and its slot frees', () => {
    const table = new WatchdogTable();
    const slot = table.record(base);
    assert.ok(slot >= 0);
    const { fields, state } = readBack(table, slot);
    assert.deepEqual(fields, base);
    assert.equal(state, SLOT_BUSY);
    assert.equal(table.release(slot), false);
    assert.equal(readBack(table, slot).state, SLOT_FREE);
  });

  test('latin1 bytes survive; a tab inside a field cannot shift the fields', () => {
    const table = new WatchdogTable();
    const slot = table.record({ ...base, url: '/caf\u00e9', userAgent: 'evil\tagent' });
    assert.deepEqual(readBack(table, slot).fields, { ...base, url: '/caf\u00e9', userAgent: 'evil agent' });
  });

  test('a request larger than a slot is cut at the slot, not written into the next one', () => {
    const table = new WatchdogTable();
    const first = table.record({ ...base, url: `/${'a'.repeat(5000)}` });
    const second = table.record(base);
    const { fields } = readBack(table, first);
    assert.equal(fields.id, 'abc-1');
    assert.ok(fields.url.startsWith('/aaaa') && fields.url.length < table.shared.slotBytes);
    assert.deepEqual(readBack(table, second).fields, base);
  });

  test('a full table records nothing rather than overwriting a slot in use', () => {
    const table = new WatchdogTable();
    const slots = new Set();
    for (let i = 0; i < table.shared.slots; i++) slots.add(table.record(base));
    assert.equal(slots.size, table.shared.slots);
    assert.equal(table.record(base), -1);
  });
});
