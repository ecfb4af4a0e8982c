import { strict as assert } from 'node:assert';
import { isLoopbackHost, loggableUrl, ScriptHttp } from '../../runtime/instances/script-http.ts';

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
});
