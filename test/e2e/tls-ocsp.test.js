// OCSP stapling: keel's primary asks the certificate's OCSP responder (from its AIA extension) and
// workers staple the answer to handshakes that send a status request. The responder is OpenSSL's own
// (`openssl ocsp` signing from an index file), behind a loopback HTTP server, since `openssl ocsp
// -port` listens on every interface.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startKeel, tempDir } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const openssl = (args, input) => execFileSync('openssl', args, { input, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], timeout: 20_000 }).toString();

/** openssl s_client's report of a handshake (with -status: the stapled answer's text). */
function handshake(port, extra = []) {
  return new Promise((resolve) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...extra], { timeout: 10_000 }, (_err, stdout) => resolve(stdout));
    // s_client reads stdin only once connected; an immediate EOF can end it before it prints the session.
    setTimeout(() => child.stdin.end('\n'), 300);
  });
}

describe('OCSP stapling', () => {
  let dir;
  let responder;
  let keel;
  let asked = 0;

  before(async () => {
    dir = tempDir('keel-ocsp-');
    const ocspPort = await freePort();
    const f = (name) => join(dir, name);
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '30', '-subj', '/CN=keel OCSP test CA', '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature']);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=localhost']);
    writeFileSync(f('ext.cnf'), `subjectAltName=DNS:localhost,IP:127.0.0.1\nauthorityInfoAccess=OCSP;URI:http://127.0.0.1:${ocspPort}\nextendedKeyUsage=serverAuth\n`);
    openssl(['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-set_serial', '0x4b45454c', '-out', f('leaf.pem'), '-days', '10', '-extfile', f('ext.cnf')]);
    chmodSync(f('leaf.key'), 0o600);
    const end = new Date(Date.now() + 10 * 86_400_000).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
    writeFileSync(f('index.txt'), `V\t${end}\t\t4B45454C\tunknown\t/CN=localhost\n`);

    responder = createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        asked++;
        writeFileSync(f('req.der'), Buffer.concat(chunks));
        openssl(['ocsp', '-index', f('index.txt'), '-rsigner', f('ca.pem'), '-rkey', f('ca.key'), '-CA', f('ca.pem'), '-ndays', '1', '-reqin', f('req.der'), '-respout', f('resp.der')]);
        const der = readFileSync(f('resp.der'));
        res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': der.length });
        res.end(der);
      });
    });
    await new Promise((resolve) => responder.listen(ocspPort, '127.0.0.1', resolve));

    const port = await freePort();
    keel = await startKeel('examples/hello/app.ts', ['-b', `https://127.0.0.1:${port}`, '--certfile', f('leaf.pem'), '--keyfile', f('leaf.key'), '--ca-certs', f('ca.pem')]);
    keel.tlsPort = port;
  });
  after(async () => {
    await keel?.stop();
    await new Promise((resolve) => (responder ? responder.close(resolve) : resolve()));
  });

  it('asks the responder once, in the primary, and staples its "good" answer for clients that ask', async () => {
    await waitFor(() => keel.errorLog().some((e) => e.msg === 'OCSP answer stapled' && e.status === 'good'), { what: 'the primary to get an OCSP answer' });
    const text = await waitFor(async () => {
      const out = await handshake(keel.tlsPort, ['-status']);
      return /OCSP Response Status: successful/.test(out) && out;
    }, { what: 'a stapled OCSP answer in the handshake' });
    assert.match(text, /Cert Status: good/);
    assert.match(text, /Serial Number: 4B45454C/);
    // One process talks to the responder, not one per worker.
    assert.equal(asked, 1);
  });

  it('without a status request the handshake carries no answer and still works', async () => {
    const out = await handshake(keel.tlsPort);
    assert.match(out, /TLSv1\.3/);
    assert.doesNotMatch(out, /OCSP Response Status/);
  });
});
