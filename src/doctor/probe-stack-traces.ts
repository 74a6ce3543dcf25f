/**
 * Stack traces in answers: asked for an unknown path, a malformed percent-encoding and an odd,
 * long query string (all plain GETs that a careful server answers with 400 or 404), then every
 * answer is read for the frames of Python, Node.js, Java, PHP, Ruby, .NET and Go.
 */
import type { Finding } from './finding.js';
import type { Evidence, ProbeFamily } from './probe-evidence.js';
import { readableText } from './probe-evidence.js';

interface TracePattern {
  readonly language: string;
  readonly pattern: RegExp;
}

/** Each needs a frame with a file and a line, so prose that merely says "error" does not match. */
const PATTERNS: readonly TracePattern[] = [
  { language: 'Python', pattern: /Traceback \(most recent call last\)|File "[^"\n]+", line \d+, in /},
  { language: 'Node.js', pattern: /\n\s*at (?:[^\n()]+ \()?(?:file:\/\/|node:|\/|[A-Za-z]:\\)[^\n():]*:\d+:\d+\)?/ },
  { language: 'Java', pattern: /\n\s*at [\w$.<>]+\([\w$]+\.(?:java|kt|scala):\d+\)/ },
  { language: 'PHP', pattern: /(?:Fatal error|Warning|Notice|Parse error|Uncaught \w+)\b.{0,300}? in \/[^\s]+\.php(?::\d+| on line \d+)|Stack trace:\s*#0 / },
  { language: 'Ruby', pattern: /[\w./-]+\.rb:\d+:in [`'][^'\n]+'/ },
  { language: '.NET', pattern: /\n\s*at [\w.<>`]+\([^)\n]*\) in [^\n]+\.cs:line \d+/ },
  { language: 'Go', pattern: /goroutine \d+ \[running\]:[\s\S]{0,400}?\.go:\d+/ },
];

/** The malformed and odd requests: GET only, nothing that changes state. */
const MALFORMED = '/%';
const ODD_QUERY = `/?keel-doctor=%&%zz[]=%E0%A4%A&a[b][c]=1&${'q'.repeat(2048)}`;

export const stackTraceProbes: ProbeFamily = {
  paths: [{ path: MALFORMED }, { path: ODD_QUERY }],
  check(evidence: Evidence): Finding[] {
    for (const response of evidence.all()) {
      if (response.body.length === 0) continue;
      const text = readableText(response.body);
      const found = PATTERNS.find(({ pattern }) => pattern.test(text));
      if (!found) continue;
      return [
        {
          id: 'stack-trace',
          severity: 'severe',
          title: `A ${found.language} stack trace is shown to clients (HTTP ${response.status})`,
          why: 'Stack traces give away file paths, library versions and code, which point an attacker at the next step.',
          fix:
            found.language === 'Node.js'
              ? 'Serve it with keel, whose error boundary logs the stack and answers with a generic page: NODE_ENV=production keel serve app.js'
              : "Turn debug off, and put keel in front with --intercept-errors so upstream error pages are replaced: keel serve --proxy '/=http://127.0.0.1:PORT' --intercept-errors",
          where: response.url,
        },
      ];
    }
    return [];
  },
};
