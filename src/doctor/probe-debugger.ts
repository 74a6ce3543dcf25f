/**
 * An interactive debugger reachable from outside: Werkzeug's /console, or its traceback pages with
 * the per-frame console on (EVALEX). Either runs Python typed into a browser, behind at most a PIN
 * that has been guessed and derived before: remote code execution.
 */
import type { Finding } from './finding.js';
import type { Evidence, ProbeFamily, ProbeResponse } from './probe-evidence.js';

const WHY = 'Whoever reaches it can run code as the server (the PIN, when set, has been brute-forced and derived from public facts before).';
const FIX = "Never run with debug on where others can reach it: drop --debug / app.debug / FLASK_DEBUG and serve the app under Gunicorn behind keel: keel serve --run 'gunicorn -b 127.0.0.1:{port} module:app'";

/** The console page itself: Werkzeug writes its resources under `?__debugger__=yes`. */
const isConsole = (r: ProbeResponse) => r.status === 200 && /__debugger__/.test(r.body) && /CONSOLE_MODE\s*=\s*true|Interactive Console/i.test(r.body);
/** A traceback page whose frames each open a console. */
const hasLiveFrames = (r: ProbeResponse) => /__debugger__/.test(r.body) && /EVALEX\s*=\s*true/.test(r.body);

export const debuggerProbes: ProbeFamily = {
  paths: [{ path: '/console' }],
  check(evidence: Evidence): Finding[] {
    const findings: Finding[] = [];
    const consolePage = evidence.response('/console');
    if (consolePage && isConsole(consolePage)) {
      findings.push({ id: 'debugger-console', severity: 'severe', title: "Werkzeug's interactive debugger console answers at /console", why: WHY, fix: FIX, where: consolePage.url });
    }
    const live = evidence.all().find((r) => r !== consolePage && hasLiveFrames(r));
    if (live) {
      findings.push({ id: 'debugger-frames', severity: 'severe', title: 'A debugger traceback page with a live console in every frame is shown to clients', why: WHY, fix: FIX, where: live.url });
    }
    return findings;
  },
};
