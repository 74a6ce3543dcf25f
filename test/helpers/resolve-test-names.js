// Preloaded with `node --import` into a process under test (NODE_OPTIONS), so host names ending in
// `.test` resolve to 127.0.0.1: a probe can then use a real name (SNI, Host, HSTS, which browsers
// and keel ignore for addresses and localhost) while every server still listens on loopback only.
// Every other name goes to the system resolver as usual.
import dns from 'node:dns';

const systemLookup = dns.lookup;

dns.lookup = function lookupTestNames(host, options, callback) {
  if (typeof host !== 'string' || !host.toLowerCase().endsWith('.test')) return systemLookup.apply(this, arguments);
  const cb = typeof options === 'function' ? options : callback;
  const opts = typeof options === 'object' && options !== null ? options : {};
  process.nextTick(() => (opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)));
  return {};
};
