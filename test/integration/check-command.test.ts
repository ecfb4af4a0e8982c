import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SOURCE_NODE_FLAGS } from '../../bin/node-runtime.cjs';
import type { AppSummary } from '../../runtime/check/report.ts';
import { tempDir } from '../helpers/test-server.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FIXTURES = 'test/fixtures/apps';

/** The real command, as users run it: a child process through the CLI entry. */
function check(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [...SOURCE_NODE_FLAGS, 'runtime/main.ts', 'check', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function checkJson(...dirs: string[]): { code: number | null; report: { ok: boolean; apps: AppSummary[] } } {
  const { code, stdout, stderr } = check('--json', ...dirs);
  assert.equal(stderr, '');
  return { code, report: JSON.parse(stdout) };
}

/** "tier name file:line, file:line" per finding: compact and exact. */
const rows = (app: AppSummary) => app.findings.map((f) => `${f.tier} ${f.name} ${f.uses.map((u) => `${u.file}:${u.line}`).join(', ')}`);

describe('check command (npm run check -- <app folder>)', function () {
  this.timeout(60_000);

  it('a fully supported app: exit 0 and the expected table', () => {
    const { code, stdout } = check(`${FIXTURES}/check-supported`);
    assert.equal(code, 0, stdout);
    assert.equal(
      stdout,
      [
        `${FIXTURES}/check-supported: main.asc, helpers.asc`,
        '',
        '  TIER       MEMBER / PATTERN              WHERE                     NOTE',
        '  supported  application.acceptConnection  main.asc:9',
        '  supported  application.name              main.asc:5',
        '  supported  application.onAppStart        main.asc:3',
        '  supported  application.onConnect         main.asc:7',
        '  supported  application.onDisconnect      main.asc:12',
        '  supported  client.call                   main.asc:16',
        '  supported  client.id                     main.asc:10, main.asc:13',
        '  supported  client.readAccess             main.asc:8',
        '  supported  load                          main.asc:2',
        '  supported  SharedObject.get              main.asc:4',
        '  supported  so.setProperty                main.asc:10, main.asc:13',
        '  supported  Stream.get                    helpers.asc:2',
        '  supported  stream.send                   helpers.asc:3',
        '  supported  trace                         main.asc:5',
        '',
        '  14 supported, 0 partial, 0 unsupported — OK',
        '',
        '',
      ].join('\n'),
    );
  });

  it('an app using unsupported members, E4X, components.asc, Flash Remoting, a run-time URL, a protocol not served and a setTimeout feature test: exit 1 and the expected rows', () => {
    const { code, report } = checkJson(`${FIXTURES}/check-unsupported`);
    assert.equal(code, 1);
    assert.equal(report.ok, false);
    const app = report.apps[0]!;
    assert.deepEqual(app.files, ['main.asc', 'e4x.asc']);
    assert.deepEqual(rows(app), [
      'unsupported syntax error e4x.asc:2',
      'unsupported application.registerProxy main.asc:6',
      'unsupported E4X e4x.asc:2',
      'unsupported load("components.asc") main.asc:19',
      'partial new File main.asc:7',
      'partial client.protocol compared with "rtmfp" main.asc:9',
      'partial feature test of setTimeout main.asc:4',
      'partial NetConnection.connect to a URL built at run time main.asc:16',
      'supported application.config main.asc:16',
      'supported application.onAppStart main.asc:12',
      'supported application.onConnect main.asc:5',
      'supported client.protocol main.asc:9',
      'supported client.setBandwidthLimit main.asc:8',
      'supported load main.asc:2, main.asc:3, main.asc:19',
      'supported nc.connect main.asc:16',
      'supported new NetConnection main.asc:15',
      'supported trace main.asc:9, main.asc:17',
      'supported netservices.asc (provided by the runtime) main.asc:2',
      'supported remoting service quotes main.asc:14',
    ]);
    assert.deepEqual(app.summary, { supported: 11, partial: 4, unsupported: 4 });
    assert.match(app.findings.find((f) => f.name === 'load("components.asc")')!.note!, /communication components framework[^]*scriptlib/);
    assert.match(app.findings.find((f) => f.name === 'feature test of setTimeout')!.note!, /scripts\.exposeSetTimeout/);
  });

  it('the shipped apps and samples check clean (they are what the README tells users to run)', () => {
    const { code, report } = checkJson('applications/livestreams', 'samples/chat/applications/chat', 'samples/multipoint/newyork/livestreams');
    assert.equal(code, 0, JSON.stringify(report.apps.map((a) => a.summary)));
    const livestreams = rows(report.apps[0]!);
    assert.ok(livestreams.includes('supported ns.publish main.asc:13'), livestreams.join('\n'));
    assert.ok(livestreams.includes('supported new NetStream main.asc:6'), livestreams.join('\n'));
  });

  it('an applications folder checks each app in it, script-less ones included', () => {
    const { code, report } = checkJson('applications');
    assert.equal(code, 0);
    assert.deepEqual(report.apps.map((a) => [a.app, a.files]), [['applications/live', []], ['applications/livestreams', ['main.asc']]]);
  });

  it('follows load() into the ScriptLibPath of Application.xml, reports a missing load() target and settings it ignores', () => {
    const apps = tempDir('check');
    const app = path.join(apps, 'lobby');
    cpSync(path.join(ROOT, FIXTURES, 'appxml'), app, { recursive: true });
    writeFileSync(path.join(app, 'main.asc'), 'load("helper.asc");\nload("components.asc");\napplication.onAppStart = function () { helperAnswer(); };\n', { flag: 'w' });
    const { code, report } = checkJson(app);
    assert.equal(code, 1);
    const summary = report.apps[0]!;
    assert.deepEqual(summary.files, ['main.asc', 'lib/helper.asc']);
    assert.ok(rows(summary).includes('unsupported load("components.asc") main.asc:2'), rows(summary).join('\n'));
    assert.deepEqual(summary.applicationXml.map((i) => i.element), ['Application/Process']);
  });

  it('usage errors exit 2 with the usage text; CR-only line endings keep line numbers right', () => {
    const none = check();
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no application folder given[^]*Usage: npm run check/);
    const missing = check('no/such/folder');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no\/such\/folder: not a folder/);
    assert.equal(check('--bogus', 'applications/livestreams').code, 2);
    const apps = tempDir('check-cr');
    cpSync(path.join(ROOT, FIXTURES, 'check-supported'), path.join(apps, 'cr'), { recursive: true });
    writeFileSync(path.join(apps, 'cr', 'helpers.asc'), '\uFEFF// old Mac file\rfunction format(t) {\r  var s = Stream.get("x");\r  return t;\r}\r');
    const { report } = checkJson(path.join(apps, 'cr'));
    assert.ok(rows(report.apps[0]!).includes('supported Stream.get helpers.asc:3'), rows(report.apps[0]!).join('\n'));
  });
});
