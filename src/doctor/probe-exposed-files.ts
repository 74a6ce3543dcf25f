/**
 * Files that must never be served: `.env` (secrets) and `.git` (the source and its history). A 200
 * alone proves nothing, since single-page apps answer 200 with index.html for every path, so an
 * answer counts only when its body looks like the real file and differs from what the server
 * answers for a path that cannot exist.
 */
import type { Finding } from './finding.js';
import type { Evidence, ProbeFamily, ProbeResponse } from './probe-evidence.js';

interface Exposure {
  readonly id: string;
  readonly path: string;
  readonly title: string;
  readonly why: string;
  readonly looksReal: (body: string) => boolean;
}

/** At least one KEY=value line, and no markup: an .env file, not a page about one. */
const looksLikeEnv = (body: string) => !/<(?:html|body|head|!doctype)/i.test(body) && /^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=/m.test(body);

const DOTFILE_FIX = "Serve only a public folder, never the project root, and deny dotfiles: keel serve --static /=./public refuses every dotfile; in Nginx: location ~ /\\. { deny all; }";

const EXPOSURES: readonly Exposure[] = [
  {
    id: 'env-file-exposed',
    path: '/.env',
    title: 'The .env file is served to anyone',
    why: '.env files hold database passwords, API keys and signing secrets.',
    looksReal: looksLikeEnv,
  },
  {
    id: 'git-exposed',
    path: '/.git/HEAD',
    title: 'The .git directory is served (/.git/HEAD)',
    why: 'With .git readable, the whole source and its history can be downloaded, secrets committed once included.',
    looksReal: (body) => /^(?:ref: refs\/\S+|[0-9a-f]{40}|[0-9a-f]{64})\s*$/.test(body),
  },
  {
    id: 'git-exposed',
    path: '/.git/config',
    title: 'The .git directory is served (/.git/config)',
    why: 'With .git readable, the whole source and its history can be downloaded, secrets committed once included.',
    looksReal: (body) => /^\s*\[core\]/m.test(body) && !/<(?:html|body)/i.test(body),
  },
];

/** Same as the catch-all answer: an SPA fallback or a custom 404 page, not the file. */
function sameAsFallback(answer: ProbeResponse, fallback: ProbeResponse | null): boolean {
  return fallback !== null && fallback.status === answer.status && fallback.body === answer.body;
}

export const exposedFileProbes: ProbeFamily = {
  paths: EXPOSURES.map(({ path }) => ({ path })),
  check(evidence: Evidence): Finding[] {
    const findings: Finding[] = [];
    for (const exposure of EXPOSURES) {
      const answer = evidence.response(exposure.path);
      if (!answer || answer.status !== 200 || !exposure.looksReal(answer.body)) continue;
      if (sameAsFallback(answer, evidence.notFound) || sameAsFallback(answer, evidence.landing)) continue;
      // Both .git paths are one problem: report the first that shows it.
      if (findings.some((f) => f.id === exposure.id)) continue;
      findings.push({ id: exposure.id, severity: 'severe', title: exposure.title, why: exposure.why, fix: DOTFILE_FIX, where: answer.url });
    }
    return findings;
  },
};
