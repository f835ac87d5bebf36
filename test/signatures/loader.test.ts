import { expect } from 'chai';
import { UmbraError } from '../../common/errors.js';
import { defaultCatalog, loadCatalog, SignaturesError, shippedDataDir } from '../../signatures/loader.js';
import { fixture } from '../helpers/root.js';

describe('signatures/loader', () => {
  const good = fixture('signatures', 'good');

  it('loads every file under the directory, resolvers included, with vendor and file set', () => {
    const c = loadCatalog({ dataDir: good });
    expect(c.files.map((f) => f.slice(good.length + 1))).to.deep.equal(['cloud.yaml', 'example-ai.yaml', 'resolvers/dns.yaml']);
    expect(c.services.map((s) => s.id)).to.include.members(['ex-chat', 'ex-api', 'ex-corp', 'cloud-openai', 'ex-doh']);
    const chat = c.byId.get('ex-chat')!;
    expect(chat.vendor).to.equal('Example AI');
    expect(chat.file).to.match(/example-ai\.yaml$/);
    expect(chat.status).to.equal('unsanctioned');
    expect(chat.risk.certifications.value).to.deep.equal(['SOC 2 Type 2', 'ISO 27001']);
    expect(c.byId.get('ex-doh')!.category).to.equal('dns-resolver');
    expect(c.matcher.match('dns.example-resolver.test')!.kind).to.equal('resolver');
  });

  it('an extra directory replaces a service with the same id and adds new ones', () => {
    const c = loadCatalog({ dataDir: good, extraDirs: [fixture('signatures', 'extra')] });
    const api = c.byId.get('ex-api')!;
    expect(api.name).to.equal('Example API via ACME contract');
    expect(api.vendor).to.equal('ACME internal');
    expect(c.services.filter((s) => s.id === 'ex-api')).to.have.length(1);
    expect(c.matcher.match('eu.api-example.test')!.service).to.equal(api);
    expect(c.matcher.match('api.example-ai.test')!.service).to.equal(api);
    expect(c.matcher.match('llm.acme.test')!.service.id).to.equal('acme-llm-gateway');
    // the shipped one is gone entirely
    expect(c.services.some((s) => s.name === 'Example API')).to.equal(false);
  });

  it('applies the organisation status per service id; the rest stay unsanctioned', () => {
    const c = loadCatalog({ dataDir: good, status: { 'ex-chat': 'sanctioned', 'ex-api': 'monitored' } });
    expect(c.byId.get('ex-chat')!.status).to.equal('sanctioned');
    expect(c.matcher.match('chat.example-ai.test')!.service.status).to.equal('sanctioned');
    expect(c.byId.get('ex-api')!.status).to.equal('monitored');
    expect(c.byId.get('ex-corp')!.status).to.equal('unsanctioned');
    // a load with no status map is unaffected by an earlier one
    expect(loadCatalog({ dataDir: good }).byId.get('ex-chat')!.status).to.equal('unsanctioned');
  });

  it('rejects an unknown service id or status value in the status map', () => {
    expect(() => loadCatalog({ dataDir: good, status: { 'no-such-service': 'sanctioned' } })).to.throw(UmbraError, /no service with id 'no-such-service'/);
    expect(() => loadCatalog({ dataDir: good, status: { 'ex-chat': 'allowed' } })).to.throw(UmbraError, /status must be one of sanctioned, monitored, unsanctioned/);
  });

  it('refuses a broken catalog with UMBRA_E_SIGNATURES naming each file and path', () => {
    let err: unknown;
    try {
      loadCatalog({ dataDir: fixture('signatures', 'broken') });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(SignaturesError);
    const e = err as SignaturesError;
    expect(e.code).to.equal('UMBRA_E_SIGNATURES');
    expect(e.exitCode).to.equal(2);
    expect(e.issues.length).to.be.greaterThan(20);
    expect(e.message).to.match(/dupkey\.yaml:6: \/: YAML: Map keys must be unique/);
    expect(e.message.split('\n')).to.have.length(1 + 20 + 1); // summary, the first 20, "and N more"
    expect(e.issues.some((i) => i.file.endsWith('schema.yaml') && i.path === '/services/0/categroy')).to.equal(true);
    expect(e.message).to.match(/and \d+ more/);
  });

  it('refuses an extra directory that claims a pattern of another service, naming its file', () => {
    expect(() => loadCatalog({ dataDir: good, extraDirs: [fixture('signatures', 'broken-layer')] }))
      .to.throw(SignaturesError, /broken-layer\/clash\.yaml:9: \/services\/0\/endpoints\/web\/0: pattern 'chat\.example-ai\.test' is already used in service 'ex-chat'/);
  });

  it('defaultCatalog() is the shipped catalog, loaded once', function () {
    let c;
    try {
      c = defaultCatalog();
    } catch (e) {
      if (e instanceof SignaturesError) this.skip(); // the catalog test lists the errors
      throw e;
    }
    expect(defaultCatalog()).to.equal(c);
    expect(c.files.every((f) => f.startsWith(shippedDataDir()))).to.equal(true);
    expect(c.matcher.match('chatgpt.com')?.service.id).to.equal('openai-chatgpt');
  });
});
