// Nginx's version facts and the config the harness writes for every Nginx row.
import path from 'node:path';
import { run } from './proc.js';

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

// mode 'return': Nginx answers "Hello, world!" by itself.
// mode 'proxy': Nginx forwards to upstreamPort over kept-alive HTTP/1.1
//   connections (at most `keepalive` idle ones per worker).
// mode 'files': Nginx serves the files under root, with sendfile and an open
//   file cache, as a production static server would.
// cert/key: TLS (HTTP/2 and HTTP/1.1 by ALPN); without them plain HTTP/1.1.
export function nginxConfig({ dir, port, cert, key, mode, upstreamPort, keepalive = 64, root, workers, http2Directive }) {
  const f = (name) => path.join(dir, name);
  const listen = !cert
    ? `listen 127.0.0.1:${port};`
    : http2Directive
    ? `listen 127.0.0.1:${port} ssl;\n    http2 on;`
    : `listen 127.0.0.1:${port} ssl http2;`;
  const tls = !cert
    ? ''
    : `
    # Nginx before 1.23.4 leaves TLSv1.3 out by default; Node and keel offer it,
    # so without this line Nginx would be measured on TLS 1.2 and the others on 1.3.
    ssl_protocols TLSv1.2 TLSv1.3;
    # Node's TLS servers pick the cipher by their own order (TLS_AES_256_GCM_SHA384
    # first); Nginx by default takes the client's, and h2load asks for AES-128
    # first. Server order here, so every row negotiates the same suite.
    ssl_prefer_server_ciphers on;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
`;
  const location = {
    proxy: `proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";`,
    return: `default_type "text/plain; charset=utf-8";
      return 200 "Hello, world!\\n";`,
    files: `root ${root};`,
  }[mode];
  if (!location) throw new Error(`nginxConfig: unknown mode "${mode}"`);
  return `# written by bench/nginx.js for one benchmark run
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
  # h2load would reconnect (and redo a TLS handshake) every 1000 requests; Node
  # and keel never close a busy kept-alive connection. Raised so the rows
  # measure the same work.
  keepalive_requests 1000000;
${mode === 'files' ? `
  # What a production Nginx serving files turns on (Debian's default nginx.conf
  # has the first two): the kernel copies the file, headers and file go out in
  # full packets, and open/stat results are reused instead of redone per request.
  sendfile on;
  tcp_nopush on;
  open_file_cache max=1000 inactive=60s;
  open_file_cache_valid 60s;
  open_file_cache_errors on;
  types {
    text/plain txt;
    application/octet-stream bin;
  }
  default_type application/octet-stream;
` : ''}${mode === 'proxy' ? `
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive ${keepalive};
    keepalive_requests 1000000;
  }
` : ''}
  server {
    ${listen}
${tls}
    location / {
      ${location}
    }
  }
}
`;
}
