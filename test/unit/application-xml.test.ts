import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppSettingsReader, loadAppSettings, type ScriptDefaults, type SettingIssue } from '../../runtime/instances/application-xml.ts';
import { tempDir } from '../helpers/test-server.ts';
import { DEFAULT_CONFIG } from '../../runtime/config.ts';
import { hlsSettingsOf } from '../../runtime/media/hls/hls-settings.ts';

const DEFAULTS: ScriptDefaults = { memoryLimitMb: 64, handlerTimeoutMs: 5000, idleUnloadSec: 1200, libPaths: ['/srv/fms/scriptlib'], hls: hlsSettingsOf(DEFAULT_CONFIG.hls) };

/** One apps folder with a server-wide Application.xml (optional) and an app folder `a`. */
function appsWith(appXml: string | null, defaultXml: string | null = null, vhostXml: string | null = null) {
  const apps = tempDir('appxml');
  const app = path.join(apps, 'a');
  mkdirSync(app);
  if (appXml !== null) writeFileSync(path.join(app, 'Application.xml'), appXml);
  if (defaultXml !== null) writeFileSync(path.join(apps, 'Application.xml'), defaultXml);
  if (vhostXml !== null) writeFileSync(path.join(apps, 'Vhost.xml'), vhostXml);
  return { apps, app, load: () => loadAppSettings(apps, app, DEFAULTS) };
}

describe('Application.xml subset (unit)', () => {
  it('no files: the server defaults, no issues', () => {
    const { load } = appsWith(null);
    const { settings, issues } = load();
    assert.deepEqual(issues, []);
    assert.equal(settings.handlerTimeoutMs, 5000);
    assert.equal(settings.idleUnloadSec, 1200);
    assert.deepEqual(settings.libPaths, DEFAULTS.libPaths);
    assert.equal(settings.loadOnStartup, false);
  });

  it('per-app values win over the server-wide file, element by element; a BOM is accepted', () => {
    const { load, app } = appsWith(
      '\uFEFF<Application><JSEngine><MaxTimeOut>2</MaxTimeOut><ScriptLibPath>lib;shared</ScriptLibPath></JSEngine></Application>',
      '<Application><MaxAppIdleTime>30</MaxAppIdleTime><JSEngine><MaxTimeOut>9</MaxTimeOut></JSEngine></Application>',
    );
    const { settings, issues } = load();
    assert.deepEqual(issues, []);
    assert.equal(settings.handlerTimeoutMs, 2000);
    assert.equal(settings.idleUnloadSec, 30);
    assert.deepEqual(settings.libPaths, [path.join(app, 'lib'), path.join(app, 'shared'), '/srv/fms/scriptlib']);
  });

  it('RuntimeSize raises the memory limit but never lowers it below the server value', () => {
    assert.equal(appsWith('<Application><JSEngine><RuntimeSize>204800</RuntimeSize></JSEngine></Application>').load().settings.memoryLimitMb, 200);
    assert.equal(appsWith('<Application><JSEngine><RuntimeSize>1024</RuntimeSize></JSEngine></Application>').load().settings.memoryLimitMb, 64);
  });

  it('MaxTimeOut 0 (FMS: no limit) keeps the server timeout: scripts never run unbounded here', () => {
    assert.equal(appsWith('<Application><JSEngine><MaxTimeOut>0</MaxTimeOut></JSEngine></Application>').load().settings.handlerTimeoutMs, 5000);
  });

  it('Vhost.xml stream folders apply to every app; an app mapping of the same prefix wins', () => {
    const { load, apps, app } = appsWith(
      '<Application><StreamManager><VirtualDirectory><Streams>/vod;media</Streams></VirtualDirectory></StreamManager></Application>',
      null,
      '<VirtualHost><VirtualDirectory><Streams>/vod;/srv/vod</Streams><Streams>/arch;archive</Streams></VirtualDirectory><AppsDir>x</AppsDir></VirtualHost>',
    );
    const { settings, issues } = load();
    assert.deepEqual(settings.streamDirs, [{ prefix: 'vod', dir: path.join(app, 'media') }, { prefix: 'arch', dir: path.join(apps, 'archive') }]);
    assert.deepEqual(issues.map((i) => i.element), ['VirtualHost/AppsDir']);
  });

  it('JSEngine/FileObject/VirtualDirectory: folders relative to the file; the app file wins on the same prefix and comes first', () => {
    const { load, apps, app } = appsWith(
      '<Application><JSEngine><FileObject><VirtualDirectory>/logs;logs</VirtualDirectory><VirtualDirectory>/data/in/;/srv/in</VirtualDirectory></FileObject></JSEngine></Application>',
      '<Application><JSEngine><FileObject><VirtualDirectory>/logs;/var/log/all</VirtualDirectory><VirtualDirectory>/shared;shared</VirtualDirectory></FileObject></JSEngine></Application>',
    );
    const { settings, issues } = load();
    assert.deepEqual(issues, []);
    assert.deepEqual(settings.fileDirs, ['/data/in;/srv/in', `/logs;${path.join(app, 'logs')}`, `/shared;${path.join(apps, 'shared')}`]);
  });

  const bad: [string, string, RegExp][] = [
    ['malformed XML', '<Application><MaxAppIdleTime>3</Application>', /not well-formed XML \(line 1: .*\); file ignored/],
    ['wrong root element', '<Server><MaxAppIdleTime>3</MaxAppIdleTime></Server>', /root element is not <Application>; file ignored/],
    ['a number that is not one', '<Application><MaxAppIdleTime>soon</MaxAppIdleTime></Application>', /"soon" is not a non-negative number; server default kept/],
    ['a boolean that is not one', '<Application><LoadOnStartup>yes</LoadOnStartup></Application>', /"yes" is not true or false/],
    ['an FMS substitution variable', '<Application><JSEngine><ScriptLibPath>${APP.JS_SCRIPTLIBPATH}</ScriptLibPath></JSEngine></Application>', /substitution variable/],
    ['Streams without a folder', '<Application><StreamManager><VirtualDirectory><Streams>/vod</Streams></VirtualDirectory></StreamManager></Application>', /is not "prefix;folder"/],
    ['a File mapping without a folder', '<Application><JSEngine><FileObject><VirtualDirectory>/logs</VirtualDirectory></FileObject></JSEngine></Application>', /is not "\/virtual;folder"; ignored/],
    ['a File mapping of "/" itself', '<Application><JSEngine><FileObject><VirtualDirectory>/;/srv</VirtualDirectory></FileObject></JSEngine></Application>', /is not "\/virtual;folder"; ignored/],
    ['a File mapping with ".."', '<Application><JSEngine><FileObject><VirtualDirectory>/a/../b;/srv</VirtualDirectory></FileObject></JSEngine></Application>', /is not "\/virtual;folder"; ignored/],
    ['a File mapping to a Windows drive', '<Application><JSEngine><FileObject><VirtualDirectory>/logs;C:\\logs</VirtualDirectory></FileObject></JSEngine></Application>', /"C:\\logs" is a Windows drive path; ignored/],
    ['an unsupported element', '<Application><SharedObjManager><MaxProperties>10</MaxProperties></SharedObjManager></Application>', /^not supported; ignored$/],
  ];
  for (const [what, xml, reason] of bad) {
    it(`bad input, ${what}: one issue, server defaults kept`, () => {
      const { settings, issues } = appsWith(xml).load();
      assert.equal(issues.length, 1, JSON.stringify(issues));
      assert.match(issues[0]!.reason, reason);
      assert.equal(settings.idleUnloadSec, 1200);
      assert.equal(settings.loadOnStartup, false);
      assert.deepEqual(settings.libPaths, DEFAULTS.libPaths);
      assert.deepEqual(settings.fileDirs, []);
    });
  }

  it('the reader logs each issue once, and re-reads a file only when it changed', () => {
    const { apps, app } = appsWith('<Application><Process><Scope>vhost</Scope></Process><MaxAppIdleTime>5</MaxAppIdleTime></Application>');
    const warned: SettingIssue[] = [];
    const reader = new AppSettingsReader(apps, DEFAULTS, (issue) => warned.push(issue));
    const first = reader.read(app);
    assert.equal(reader.read(app), first, 'unchanged files: the cached settings');
    assert.equal(reader.read(app).idleUnloadSec, 5);
    writeFileSync(path.join(app, 'Application.xml'), '<Application><Process><Scope>vhost</Scope></Process><MaxAppIdleTime>42</MaxAppIdleTime></Application>');
    assert.equal(reader.read(app).idleUnloadSec, 42, 'an edited file is read again');
    assert.deepEqual(warned.map((w) => w.element), ['Application/Process'], 'the same issue is not logged twice');
  });

  it('a file nested deeper than the XML parser allows is one issue, not an exception (lookup runs on every connect; check reads untrusted apps)', () => {
    const { load } = appsWith(`<Application>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</Application>`);
    const { settings, issues } = load();
    assert.equal(settings.handlerTimeoutMs, 5000, 'server defaults kept');
    assert.equal(issues.length, 1);
    assert.match(issues[0]!.reason, /file ignored/);
  });
});
