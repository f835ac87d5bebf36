// Optional mutual TLS: with client_ca_file set, a client must present a
// certificate from that CA (and still its token). The CA and certificates are
// made here with openssl.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOpenssl } from '../../../collector/ingest/self-signed.js';
import { startCollector, type RunningCollector } from '../../../collector/ingest/server.js';
import { call, makeEvent, ndjson, tempDirWithCert, testConfig, type TempDir } from '../helpers.js';

async function makeCa(dir: string, name: string): Promise<void> {
  await runOpenssl('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`), '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

async function makeClient(dir: string, ca: string, name: string): Promise<{ key: string; cert: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const crt = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  await runOpenssl('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  await runOpenssl('openssl', ['x509', '-req', '-in', csr, '-CA', join(dir, `${ca}.crt`), '-CAkey', join(dir, `${ca}.key`), '-CAcreateserial', '-days', '1', '-out', crt, '-extfile', ext]);
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(crt, 'utf8') };
}

describe('collector mTLS (client_ca_file)', function () {
  this.timeout(30_000);
  let t: TempDir;
  let c: RunningCollector;
  let good: { key: string; cert: string };
  let rogue: { key: string; cert: string };

  before(async () => {
    t = await tempDirWithCert();
    await makeCa(t.dir, 'agents-ca');
    await makeCa(t.dir, 'rogue-ca');
    good = await makeClient(t.dir, 'agents-ca', 'gw-test-1');
    rogue = await makeClient(t.dir, 'rogue-ca', 'gw-rogue');
    c = await startCollector(testConfig(t, { clientCaFile: join(t.dir, 'agents-ca.crt') }), { log: () => {} });
  });
  after(async () => {
    await c.close();
    t.remove();
  });

  const send = (tls: Record<string, string>) => call(c.url, '/api/v1/events', ndjson([makeEvent(1)]), { tls: { ca: t.cert.certPem, ...tls } });

  it('refuses a client without a certificate', async () => {
    const err = await send({}).then(() => null, (e: Error) => e);
    expect(err, 'request without a client certificate was answered').to.be.instanceOf(Error);
    expect((err as NodeJS.ErrnoException).code).to.equal('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    expect(await c.store.count()).to.equal(0);
  });

  it('refuses a client certificate from another CA', async () => {
    const err = await send(rogue).then(() => null, (e: Error) => e);
    // The server aborts the handshake (unknown CA); the client sees the alert or the reset.
    expect((err as NodeJS.ErrnoException).code).to.match(/^(ECONNRESET|ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ERR_SSL_.*)$/);
    expect(err).to.be.instanceOf(Error);
    expect(await c.store.count()).to.equal(0);
  });

  it('accepts a certificate from the configured CA (the token is still checked)', async () => {
    const r = await send(good);
    expect(r.status, r.body).to.equal(200);
    expect(r.json).to.deep.equal({ accepted: 1, duplicates: 0, dead_lettered: 0 });
    const noToken = await call(c.url, '/api/v1/events', ndjson([makeEvent(2)]), { token: 'nope', tls: { ca: t.cert.certPem, ...good } });
    expect(noToken.status).to.equal(401);
    expect(await c.store.count()).to.equal(1);
  });
});
