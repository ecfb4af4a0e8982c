import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { API_TIERS, CLASS_NAMES } from '../../runtime/check/api-tiers.ts';

const HOST_API = path.resolve(import.meta.dirname, '../../host-api');
const sources = Object.fromEntries(readdirSync(HOST_API).filter((f) => f.endsWith('.ts')).map((f) => [f, readFileSync(path.join(HOST_API, f), 'utf8')]));
const all = Object.values(sources).join('\n');

/** host-api's names for what it reports as unsupported: unsupported('X'), stub('X', …), and the two loop forms. */
function reportedUnsupported(): string[] {
  const names = new Set<string>();
  for (const m of all.matchAll(/\b(?:unsupported|stub)\('([^']+)'/g)) names.add(m[1]!);
  // for (const member of ['clear', …]) { defineMethod(proto, member, … unsupported(`Stream.${member}`)
  for (const m of all.matchAll(/for \(const (\w+) of \[([^\]]*)\]\)\s*\{?\s*defineMethod\(proto, \1,[^]*?unsupported\(`(\w+)\.\$\{\1\}`\)/g)) {
    for (const item of m[2]!.matchAll(/'(\w+)'/g)) names.add(`${m[3]}.${item[1]}`);
  }
  // for (const key of ['farID', …]) defineStubProperty(proto, key, '') — reported as Client.<key>
  for (const m of all.matchAll(/for \(const (\w+) of \[([^\]]*)\]\) defineStubProperty\(proto, \1/g)) {
    for (const item of m[2]!.matchAll(/'(\w+)'/g)) names.add(`Client.${item[1]}`);
  }
  for (const m of all.matchAll(/defineStubProperty\(proto, '(\w+)'/g)) names.add(`Client.${m[1]}`);
  return [...names].sort();
}

/** host-api says `Client.ping`, `NetConnection.addHeader`, `Stream.clear`; the table `client.ping`, `nc.addHeader`, `stream.clear`. */
function tableKey(hostName: string): string {
  if (hostName in API_TIERS) return hostName;
  if (hostName.startsWith('NetStream(')) return `new ${hostName}`;
  const [cls, member] = hostName.split('.') as [string, string];
  if (member === undefined) return `new ${cls}`; // a stub class: unsupported('XMLSocket')
  const instance = { Client: 'client', NetConnection: 'nc', NetStream: 'ns', SharedObject: 'so', Stream: 'stream', File: 'file' }[cls];
  return instance ? `${instance}.${member}` : hostName;
}

function definedGlobals(): string[] {
  return [...sources['bootstrap.ts']!.matchAll(/defineGlobal\('(\w+)'/g)].map((m) => m[1]!);
}

describe('check: the tier table agrees with host-api', () => {
  it('every member host-api reports as unsupported is listed as partial or unsupported', () => {
    const reported = reportedUnsupported();
    // If host-api is restructured so these patterns no longer match, fail loudly rather than pass empty.
    assert.ok(reported.length >= 20, `found only ${reported.length} unsupported() names in host-api: update this test's patterns`);
    for (const name of reported) {
      const key = tableKey(name);
      assert.ok(key in API_TIERS, `host-api reports "${name}" but api-tiers.ts has no "${key}"`);
      assert.notEqual(API_TIERS[key]!.tier, 'supported', `"${key}" is a stub in host-api but listed as supported`);
    }
  });

  it('supported globals and classes are exactly those host-api installs; unsupported classes are not defined', () => {
    const installed = definedGlobals();
    // Classes host-api installs only to log "unsupported" when used (XMLSocket, WebService).
    const stubClasses = reportedUnsupported().filter((name) => !name.includes('.') && !name.includes('('));
    for (const [key, entry] of Object.entries(API_TIERS)) {
      const global = /^(?:new )?(\w+)$/.exec(key)?.[1];
      if (global === undefined) continue;
      if (entry.tier === 'supported') assert.ok(installed.includes(global), `"${key}" is listed as supported but host-api does not install ${global}`);
      else if (entry.tier === 'partial') assert.ok(installed.includes(global), `"${key}" is listed as partial but host-api does not install ${global}`);
      else if (key !== 'setTimeout' && key !== 'clearTimeout' && !stubClasses.includes(global)) {
        assert.ok(!installed.includes(global), `host-api installs ${global} but "${key}" is listed as ${entry.tier}`);
      }
    }
    for (const name of installed) {
      if (name === 'application' || name === 'Client' || name === 'Stream' || name === 'SharedObject') continue; // used through members
      assert.ok(name in API_TIERS || `new ${name}` in API_TIERS, `host-api installs ${name}; api-tiers.ts does not list it`);
    }
    for (const cls of CLASS_NAMES) assert.match(cls, /^[A-Z]\w+$/);
  });
});
