import { strict as assert } from 'node:assert';
import { isLoopbackHost, loggableUrl, ScriptHttp } from '../../runtime/sandbox/script-http.ts';

/** The allow-list decision alone: refused requests answer false at once and never touch the network. */
describe('script HTTP allow-list', () => {
  const problems: string[] = [];
  const http = new ScriptHttp({ allowHosts: ['api.example.com', '*.cdn.example.net'], timeoutMs: 1000, maxBytes: 1000, onProblem: (_url, reason) => problems.push(reason) });
  const request = (url: string) => http.request({ method: 'GET', url, headers: [], body: null, contentType: 'text/plain' }, () => undefined);
  after(() => http.abortAll());

  it('exact names and "*." suffixes are allowed; look-alikes are not', () => {
    assert.equal(request('http://API.example.com/x'), true);
    assert.equal(request('https://a.b.cdn.example.net/x'), true);
    http.abortAll();
    const before = problems.length;
    for (const url of ['http://example.com/', 'http://api.example.com.evil.net/', 'http://evilcdn.example.net/', 'http://cdn.example.net/', 'http://10.0.0.1/']) {
      assert.equal(request(url), false, url);
    }
    assert.equal(problems.length, before + 5);
  });

  it('loopback is always allowed; credentials in URLs and other schemes are not', () => {
    assert.ok(['localhost', '127.0.0.1', '127.5.6.7', '[::1]', 'LOCALHOST.'].every(isLoopbackHost));
    assert.ok(!['127.0.0.1.nip.io', '0.0.0.0', '128.0.0.1', 'localhost.evil.com'].some(isLoopbackHost));
    assert.equal(request('http://user:pw@localhost/'), false);
    assert.equal(request('ftp://localhost/'), false);
    assert.equal(request('not a url'), false);
  });

  it('logged URLs drop the query string', () => {
    assert.equal(loggableUrl('https://u:p@api.example.com:8443/verify?token=abc#x'), 'https://api.example.com:8443/verify');
  });

  it("this server's own HTTP port is refused on every loopback spelling the URL parser accepts; other forms are not allowed at all", () => {
    const reasons: string[] = [];
    const own = new ScriptHttp({ allowHosts: [], timeoutMs: 1000, maxBytes: 1000, refusedLoopbackPorts: () => [8086], onProblem: (_url, reason) => reasons.push(reason) });
    const get = (url: string) => own.request({ method: 'GET', url, headers: [], body: null, contentType: 'text/plain' }, () => undefined);
    const loopbackForms = ['localhost', 'LOCALHOST.', '127.0.0.1', '127.1', '127.0.1', '2130706433', '0x7f000001', '0177.0.0.1', '127.0.0.1%2e', '127.9.9.9', '[::1]', '[0:0:0:0:0:0:0:1]'];
    for (const host of loopbackForms) {
      assert.equal(get(`http://${host}:8086/api/instances`), false, host);
      assert.match(reasons.at(-1)!, /own HTTP port/, host);
    }
    for (const host of ['[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '0.0.0.0', '0', '[::]', 'foo.localhost']) {
      assert.equal(get(`http://${host}:8086/`), false, host);
      assert.match(reasons.at(-1)!, /not in scripts\.http\.allowHosts/, host);
    }
    assert.equal(get('http://127.0.0.1:8087/'), true, 'another loopback port is allowed');
    own.abortAll();
  });
});
