// A bounded load loop over keep-alive connections, counting every failure: for drain/reload/kill tests.
import { Agent, request } from 'undici';

/**
 * Runs `connections` serial request loops against url until stop() is called or `maxMs` passes.
 * Returns { stop(): Promise<{ ok, failed, errors, statuses }> }.
 */
export function startLoad(url, { connections = 8, maxMs = 60_000, path = '/' } = {}) {
  const agent = new Agent({ connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const result = { ok: 0, failed: 0, errors: [], statuses: {} };
  let running = true;
  const deadline = Date.now() + maxMs;
  const loops = Array.from({ length: connections }, async () => {
    while (running && Date.now() < deadline) {
      try {
        const res = await request(url + path, { dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000 });
        await res.body.text();
        result.statuses[res.statusCode] = (result.statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode === 200) result.ok++;
        else result.failed++;
      } catch (err) {
        result.failed++;
        if (result.errors.length < 20) result.errors.push(`${err.code ?? ''} ${err.message}`);
      }
    }
  });
  return {
    result,
    async stop() {
      running = false;
      await Promise.all(loops);
      await agent.close();
      return result;
    },
  };
}
