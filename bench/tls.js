// What the TLS rows need beyond the plain ones: one certificate per run shared
// by every TLS server, Nginx and h2load on PATH, and Nginx's config.
import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { run } from './proc.js';

const TLS_INSTALL = 'apt-get update && apt-get install -y nginx nghttp2-client';

// nginx lives in /usr/sbin, which a non-root PATH often lacks.
export function findBin(name) {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    for (const dir of ['/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin']) {
      if (existsSync(path.join(dir, name))) return path.join(dir, name);
    }
    return null;
  }
}

// Same policy as wrk in load.js: install when root, otherwise print the line.
export async function ensureTlsTools(bins) {
  const missing = bins.filter((b) => !findBin(b));
  if (!missing.length) return;
  if (process.getuid?.() === 0) {
    console.error(`${missing.join(', ')} not found; installing: ${TLS_INSTALL}`);
    const r = await run('sh', ['-c', TLS_INSTALL], { timeoutMs: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (!r.ok) console.error(`install failed:\n${(r.stdout + r.stderr).trim().split('\n').slice(-5).join('\n')}`);
  } else {
    console.error(`${missing.join(', ')} not found and not root; the TLS rows that need them will fail. Install with:\n  sudo ${TLS_INSTALL}`);
  }
}

export async function toolVersions(bins) {
  const out = {};
  for (const b of bins) {
    const bin = findBin(b);
    if (!bin) continue;
    const r = await run(bin, b === 'nginx' ? ['-v'] : b === 'openssl' ? ['version'] : ['--version'], { timeoutMs: 5000 });
    out[b] = (r.stdout + r.stderr).split('\n')[0].replace(/^nginx version: /, '').trim();
  }
  return out;
}

// An ECDSA P-256 self-signed certificate for 127.0.0.1 and localhost, made
// once per run in the run's temp dir; every TLS server gets the same files.
export async function makeCertificate(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const r = await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { timeoutMs: 30_000 });
  if (!r.ok) throw new Error(`openssl could not make the certificate: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-2).join(' / ')}`);
  return { cert, key, ca: readFileSync(cert) };
}

const atLeast = (v, want) => {
  for (let i = 0; i < want.length; i++) {
    if ((v[i] ?? 0) !== want[i]) return (v[i] ?? 0) > want[i];
  }
  return true;
};

export async function nginxInfo(bin) {
  const r = await run(bin, ['-v'], { timeoutMs: 5000 });
  const text = (r.stdout + r.stderr).trim();
  const m = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(text);
  const version = m ? m.slice(1).map(Number) : [0, 0, 0];
  return {
    text: m ? `nginx ${m[1]}.${m[2]}.${m[3]}` : text,
    // `http2 on;` replaced `listen ... http2` in 1.25.1; `-e` exists since 1.19.5.
    http2Directive: atLeast(version, [1, 25, 1]),
    hasErrorLogFlag: atLeast(version, [1, 19, 5]),
  };
}

// mode 'static': Nginx answers by itself. mode 'proxy': Nginx forwards to
// upstreamPort over kept-alive HTTP/1.1 connections.
export function nginxConfig({ dir, port, cert, key, mode, upstreamPort, workers, http2Directive }) {
  const f = (name) => path.join(dir, name);
  const listen = http2Directive ? `listen 127.0.0.1:${port} ssl;\n    http2 on;` : `listen 127.0.0.1:${port} ssl http2;`;
  const location =
    mode === 'proxy'
      ? `proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";`
      : `default_type "text/plain; charset=utf-8";
      return 200 "Hello, world!\\n";`;
  return `# written by bench/tls.js for one benchmark run
daemon off;
master_process on;
worker_processes ${workers};
pid ${f('nginx.pid')};
error_log ${f('error.log')} warn;

events {
  worker_connections 1024;
}

http {
  # Buffered like keel's own access log (64 KiB or 20 ms), which the keel rows keep on.
  access_log ${f('access.log')} combined buffer=64k flush=20ms;
  client_body_temp_path ${f('client_body')};
  proxy_temp_path ${f('proxy')};
  fastcgi_temp_path ${f('fastcgi')};
  uwsgi_temp_path ${f('uwsgi')};
  scgi_temp_path ${f('scgi')};
  # Nginx's default (1000) closes each connection after 1000 requests, so wrk and
  # h2load would redo a TLS handshake every 1000 requests; Node and keel never
  # close a busy kept-alive connection. Raised so the rows measure the same work.
  keepalive_requests 1000000;
${mode === 'proxy' ? `
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
` : ''}
  server {
    ${listen}
    # Nginx before 1.23.4 leaves TLSv1.3 out by default; Node and keel offer it,
    # so without this line Nginx would be measured on TLS 1.2 and the others on 1.3.
    ssl_protocols TLSv1.2 TLSv1.3;
    # Node's TLS servers pick the cipher by their own order (TLS_AES_256_GCM_SHA384
    # first); Nginx by default takes the client's, and h2load asks for AES-128
    # first. Server order here, so every row negotiates the same suite.
    ssl_prefer_server_ciphers on;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};

    location / {
      ${location}
    }
  }
}
`;
}
