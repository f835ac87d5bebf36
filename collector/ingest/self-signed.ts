// A self-signed key and certificate for `umbra demo` and tests. Node can make
// keys but has no X.509 builder, so the certificate comes from `openssl req`,
// run without a shell (argument array). Without openssl this fails with a
// message saying so, rather than starting without TLS.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UmbraError } from '../../common/errors.js';

const execFileAsync = promisify(execFile);

/** Validity of a generated certificate (days). */
export const SELF_SIGNED_DAYS = 365;
/** openssl must finish within this (ms). */
export const OPENSSL_TIMEOUT_MS = 30_000;

export interface SelfSignedOptions {
  /** Certificate subject CN (default `umbra-collector`). */
  commonName?: string;
  /** Names and addresses in subjectAltName (default localhost, 127.0.0.1, ::1). */
  dnsNames?: string[];
  ipAddresses?: string[];
  /** The openssl executable (default `openssl` on the PATH). */
  openssl?: string;
}

export interface SelfSigned {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

/** Writes `<dir>/<name>.key` (mode 0600) and `<dir>/<name>.crt`, an ECDSA P-256 self-signed certificate. */
export async function generateSelfSigned(dir: string, name = 'collector', opts: SelfSignedOptions = {}): Promise<SelfSigned> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  const san = [...(opts.dnsNames ?? ['localhost']).map((d) => `DNS:${d}`), ...(opts.ipAddresses ?? ['127.0.0.1', '::1']).map((a) => `IP:${a}`)].join(',');
  const args = [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', String(SELF_SIGNED_DAYS),
    '-subj', `/CN=${opts.commonName ?? 'umbra-collector'}`,
    '-addext', `subjectAltName=${san}`,
    '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', 'extendedKeyUsage=serverAuth',
  ];
  await runOpenssl(opts.openssl ?? 'openssl', args);
  return { certFile, keyFile, certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
}

/** Runs openssl with an argument array; UmbraError(UMBRA_E_TLS) when it is missing or fails. */
export async function runOpenssl(openssl: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(openssl, args, { timeout: OPENSSL_TIMEOUT_MS });
    return stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') {
      throw new UmbraError('UMBRA_E_TLS', `cannot make a self-signed certificate: '${openssl}' not found (install openssl, or give collector.tls.cert_file and key_file)`);
    }
    throw new UmbraError('UMBRA_E_TLS', `openssl ${args[0]} failed: ${(err.stderr ?? err.message).trim().split('\n')[0]}`);
  }
}
