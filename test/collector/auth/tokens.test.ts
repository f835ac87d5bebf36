import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { bearerToken, generateToken, hashToken, MAX_AUTHORIZATION_CHARS, TokenTable } from '../../../collector/auth/tokens.js';

describe('collector tokens', () => {
  it('hashes with SHA-256 (FIPS 180-2 vector "abc")', () => {
    expect(hashToken('abc').toString('hex')).to.equal('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('generates 256-bit base64url tokens whose printed SHA-256 matches openssl dgst', () => {
    const { token, sha256 } = generateToken();
    expect(token).to.match(/^[A-Za-z0-9_-]{43}$/);
    const ext = execFileSync('openssl', ['dgst', '-sha256', '-r'], { input: token }).toString().split(' ')[0];
    expect(sha256).to.equal(ext);
    expect(generateToken().token).to.not.equal(token);
  });

  it('finds the holder of a token and nobody for anything else', () => {
    const t = new TokenTable([
      { id: 'gw1', tokenSha256: hashToken('one') },
      { id: 'gw2', tokenSha256: hashToken('two') },
    ]);
    expect(t.lookup('one')).to.equal('gw1');
    expect(t.lookup('two')).to.equal('gw2');
    for (const bad of ['', 'on', 'one ', 'ONE', 'three', null]) expect(t.lookup(bad)).to.equal(null);
    expect(new TokenTable([]).lookup('one')).to.equal(null);
  });

  it('reads Bearer tokens from Authorization headers', () => {
    expect(bearerToken('Bearer abc.DEF-_~+/=')).to.equal('abc.DEF-_~+/=');
    expect(bearerToken('bearer  abc ')).to.equal('abc');
    for (const bad of [undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'Bearerabc']) expect(bearerToken(bad)).to.equal(null);
    expect(bearerToken('Bearer ' + 'a'.repeat(MAX_AUTHORIZATION_CHARS))).to.equal(null);
  });
});
