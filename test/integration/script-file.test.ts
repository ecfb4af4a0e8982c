import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetConnection } from '../../runtime/client/net-connection.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

/**
 * The File class against the real server: a client calls methods of a main.asc that uses File;
 * results come back as call results and the files are checked on disk from the test.
 */
const MAIN_ASC = `
Client.prototype.writeLog = function () {
  var out = {};
  out.mkdir = new File("/").mkdir("data");
  var f = new File("/data/log.txt");
  out.existsBefore = f.exists;
  out.open = f.open("text", "write");
  out.isOpen = f.isOpen;
  out.can = [f.canRead, f.canWrite, f.canAppend, f.canReplace, f.type, f.mode];
  out.writeln = f.writeln("first line");
  f.write("sec", "ond ", 2);
  f.writeln("");
  f.writeAll(["dritte \\u2713", "vierte"]);
  out.lengthOpen = f.length;
  out.flush = f.flush();
  out.close = f.close();
  out.closeTwice = f.close();
  out.existsAfter = f.exists;
  out.isFile = f.isFile;
  out.isDirectory = f.isDirectory;
  out.name = f.name;
  out.toString = "" + f;
  out.lastModifiedIsDate = f.lastModified instanceof Date;
  return out;
};

Client.prototype.readLog = function () {
  var out = {};
  var f = new File("data/log.txt");
  out.open = f.open("text", "read");
  out.writeRefused = f.write("x");
  out.canReading = [f.canRead, f.canWrite, f.canAppend, f.canReplace];
  out.line1 = f.readln();
  out.position = f.position;
  out.line2 = f.readln();
  out.rest = f.readAll();
  out.eof = f.eof();
  out.readlnAtEnd = f.readln();
  f.position = 0;
  out.rewound = f.position;
  out.seek = f.seek(6);
  out.read4 = f.read(4);
  out.seekPastEnd = f.seek(100000);
  out.readlns = (f.position = 0, f.readlns(2));
  f.close();
  out.canClosed = [f.canRead, f.canWrite, f.isOpen];
  out.append = f.open("utf8", "append");
  out.canAppending = [f.canRead, f.canWrite, f.canAppend, f.canReplace];
  f.writeln("appended");
  f.close();
  f.open("text", "read");
  out.all = f.readAll();
  f.close();
  return out;
};

Client.prototype.binary = function () {
  var f = new File("/data/bytes.bin");
  var out = { open: f.open("binary", "create") };
  f.writeByte(255); f.writeByte(0); f.write("\\u00e9A");
  f.position = 0;
  out.bytes = [f.readByte(), f.readByte(), f.readByte(), f.readByte(), f.readByte()];
  out.eof = f.eof();
  f.close();
  return out;
};

Client.prototype.directoryOps = function () {
  var out = {};
  var log = new File("/data/log.txt");
  out.copy = log.copyTo("/data/copy.txt");
  out.copyOntoExisting = log.copyTo("/data/copy.txt");
  var copy = new File("/data/copy.txt");
  out.rename = copy.renameTo("/data/renamed.txt");
  out.renamedName = copy.name;
  out.mkdirSub = new File("/data").mkdir("sub");
  var d = new File("/data");
  var names = [], list = d.list();
  for (var i = 0; i < list.length; i++) names.push(list[i].name + (list[i].isDirectory ? "/" : ""));
  out.list = names;
  out.filtered = d.list(function (n) { return n.indexOf("re") == 0; }).length;
  out.dirLength = d.length;
  out.removeNonEmpty = d.remove();
  out.removeFile = new File("/data/renamed.txt").remove();
  out.renamedGone = new File("/data/renamed.txt").exists;
  out.removeRecursive = d.remove(true);
  out.dataGone = d.exists;
  out.rootRemove = new File("/").remove(true);
  out.rootRename = new File("/").renameTo("/elsewhere");
  return out;
};

/** Every escape attempt: [exists, open(read), readAll, list, mkdir, copyTo target refused]. */
Client.prototype.attempt = function (path) {
  var f = new File(path);
  var opened = f.open("text", "read");
  var content = opened ? f.readAll() : null;
  return { exists: f.exists, open: opened, content: content, list: f.list(), openWrite: f.open("text", "write") };
};

Client.prototype.writeThrough = function (path) {
  var f = new File(path);
  var opened = f.open("text", "create");
  if (opened) { f.writeln("escaped"); f.close(); }
  return opened;
};

Client.prototype.copyOut = function (target) {
  var f = new File("/inside.txt");
  return [f.copyTo(target), f.renameTo(target), new File("/").mkdir(target)];
};

/** Application.xml / Vhost.xml set memory and time limits and map folders: read-only to scripts. */
Client.prototype.serverConfig = function () {
  var out = {};
  out.write = new File("/Application.xml").open("text", "write");
  out.create = new File("/application.xml").open("text", "create");
  out.append = new File("/Application.xml").open("text", "append");
  out.readWrite = new File("/Application.xml").open("text", "readWrite");
  out.vhost = new File("/Vhost.xml").open("text", "create");
  var src = new File("/inside.txt");
  out.copyOnto = src.copyTo("/APPLICATION.XML");
  out.renameOnto = src.renameTo("/application.xml");
  out.remove = new File("/Application.xml").remove();
  out.renameAway = new File("/Application.xml").renameTo("/old.xml");
  var read = new File("/Application.xml");
  out.read = read.open("text", "read") ? read.readAll().join("") : null;
  read.close();
  return out;
};

Client.prototype.mapped = function () {
  var f = new File("/logs/app.log");
  var ok = f.open("text", "append");
  f.writeln("via mapping");
  f.close();
  return [ok, f.name, new File("/logs").isDirectory];
};
`;

describe('script File: confined to the application folder', function () {
  this.timeout(30_000);
  let ts: TestServer;
  let nc: NetConnection;
  let appDir: string;
  let outside: string;
  let mappedDir: string;

  before(async () => {
    const base = tempDir('files');
    const apps = path.join(base, 'apps');
    appDir = path.join(apps, 'filer');
    outside = path.join(base, 'outside');
    mappedDir = path.join(base, 'mapped-logs');
    mkdirSync(appDir, { recursive: true });
    mkdirSync(outside);
    mkdirSync(mappedDir);
    writeFileSync(path.join(appDir, 'main.asc'), MAIN_ASC);
    writeFileSync(path.join(appDir, 'inside.txt'), 'inside\n');
    writeFileSync(path.join(outside, 'secret.txt'), 'TOP SECRET\n');
    symlinkSync(outside, path.join(appDir, 'linkdir'));
    symlinkSync(path.join(outside, 'secret.txt'), path.join(appDir, 'leak.txt'));
    symlinkSync(path.join(outside, 'created-by-script.txt'), path.join(appDir, 'dangling.txt'));
    ts = await startTestServer(apps, { scripts: { fileVirtualDirectories: [`/logs;${mappedDir}`] } });
    nc = new NetConnection();
    await nc.connect(ts.url('filer'));
  });
  after(async () => {
    nc?.close();
    await ts?.close();
  });

  const refusals = () => ts.logs.records.filter((r) => r['code'] === 'SCRIPT_FILE_REFUSED' && r.level === 40);

  it('write, then read back with readln / readAll / read / seek / position / eof, then append', async () => {
    const written = (await nc.call('writeLog')) as Record<string, unknown>;
    assert.deepEqual(written, {
      mkdir: true, existsBefore: false, open: true, isOpen: true, can: [false, true, false, true, 'text', 'write'], writeln: true, lengthOpen: 38, flush: true, close: true,
      closeTwice: false, existsAfter: true, isFile: true, isDirectory: false, name: '/data/log.txt', toString: '/data/log.txt',
      lastModifiedIsDate: true,
    });
    assert.equal(readFileSync(path.join(appDir, 'data', 'log.txt'), 'utf8'), 'first line\nsecond 2\ndritte \u2713\nvierte\n');

    const read = (await nc.call('readLog')) as Record<string, unknown>;
    assert.deepEqual(read, {
      open: true, writeRefused: false, line1: 'first line', position: 11, line2: 'second 2', rest: ['dritte \u2713', 'vierte'], eof: true,
      readlnAtEnd: null, rewound: 0, seek: true, read4: 'line', seekPastEnd: false, readlns: ['first line', 'second 2'], canReading: [true, false, false, false], canClosed: [true, true, false], append: true,
      canAppending: [false, true, true, false],
      all: ['first line', 'second 2', 'dritte \u2713', 'vierte', 'appended'],
    });
  });

  it('binary mode: bytes in, bytes out; readByte answers -1 at the end', async () => {
    assert.deepEqual(await nc.call('binary'), { open: true, bytes: [255, 0, 0xe9, 0x41, -1], eof: true });
    assert.deepEqual([...readFileSync(path.join(appDir, 'data', 'bytes.bin'))], [255, 0, 0xe9, 0x41]);
  });

  it('copyTo / renameTo / mkdir / list(filter) / remove(recursive); the root cannot be removed or renamed', async () => {
    const out = (await nc.call('directoryOps')) as Record<string, unknown>;
    assert.deepEqual(out, {
      copy: true, copyOntoExisting: false, rename: true, renamedName: '/data/renamed.txt', mkdirSub: true,
      list: ['/data/bytes.bin', '/data/log.txt', '/data/renamed.txt', '/data/sub/'], filtered: 1, dirLength: 4,
      removeNonEmpty: false, removeFile: true, renamedGone: false, removeRecursive: true, dataGone: false,
      rootRemove: false, rootRename: false,
    });
    assert.ok(!existsSync(path.join(appDir, 'data')));
    assert.ok(existsSync(path.join(appDir, 'main.asc')), 'the app folder is intact');
  });

  it('every escape attempt (.., symlinks out, NUL, backslash) fails with false/null and one log line each', async () => {
    const attempts = ['../outside/secret.txt', '/data/../../outside/secret.txt', 'linkdir/secret.txt', 'leak.txt', 'inside.txt\u0000../x', '..\\outside\\secret.txt'];
    for (const attempt of attempts) {
      const before = refusals().length;
      const out = await nc.call('attempt', attempt);
      assert.deepEqual(out, { exists: false, open: false, content: null, list: null, openWrite: false }, attempt);
      assert.equal(refusals().length, before + 1, `one log line for ${JSON.stringify(attempt)}`);
      const record = refusals().at(-1)!;
      assert.equal(record['path'], attempt);
      assert.equal(record.app, 'filer/_definst_');
    }
  });

  it('a native absolute path stays inside the app folder (FMS: "/" is the app folder): the real file is never reached', async () => {
    const secret = path.join(outside, 'secret.txt');
    const out = (await nc.call('attempt', secret)) as Record<string, unknown>;
    assert.equal(out['exists'], false);
    assert.equal(out['open'], false);
    assert.equal(out['content'], null);
  });

  it('writes through a dangling symlink or a linked folder are refused; nothing appears outside', async () => {
    const before = refusals().length;
    assert.equal(await nc.call('writeThrough', '/dangling.txt'), false);
    assert.equal(await nc.call('writeThrough', '/linkdir/new.txt'), false);
    assert.equal(refusals().length, before + 2);
    assert.ok(!existsSync(path.join(outside, 'created-by-script.txt')));
    assert.ok(!existsSync(path.join(outside, 'new.txt')));
  });

  it('copyTo / renameTo / mkdir with an escaping target are refused and logged', async () => {
    const before = refusals().length;
    assert.deepEqual(await nc.call('copyOut', '../stolen.txt'), [false, false, false]);
    assert.deepEqual(await nc.call('copyOut', '/linkdir/stolen.txt'), [false, false, false]);
    assert.equal(refusals().length, before + 6);
    assert.ok(!existsSync(path.join(outside, 'stolen.txt')));
    assert.ok(existsSync(path.join(appDir, 'inside.txt')), 'the source was not moved');
  });

  it('scripts.fileVirtualDirectories maps a prefix to another folder', async () => {
    assert.deepEqual(await nc.call('mapped'), [true, '/logs/app.log', true]);
    assert.equal(readFileSync(path.join(mappedDir, 'app.log'), 'utf8'), 'via mapping\n');
  });

  it('Application.xml / Vhost.xml (limits, lib paths, stream folders) cannot be written, replaced, moved or removed by scripts; reading is fine', async () => {
    const operatorXml = '<Application><JSEngine><MaxTimeOut>0</MaxTimeOut></JSEngine></Application>';
    writeFileSync(path.join(appDir, 'Application.xml'), operatorXml);
    const before = refusals().length;
    assert.deepEqual(await nc.call('serverConfig'), {
      write: false, create: false, append: false, readWrite: false, vhost: false, copyOnto: false, renameOnto: false, remove: false, renameAway: false, read: operatorXml,
    });
    assert.equal(refusals().length, before + 9, 'one log line per attempt');
    assert.equal(readFileSync(path.join(appDir, 'Application.xml'), 'utf8'), operatorXml, 'the operator file is untouched');
    assert.ok(!existsSync(path.join(appDir, 'Vhost.xml')));
    assert.ok(!existsSync(path.join(appDir, 'old.xml')));
    assert.ok(existsSync(path.join(appDir, 'inside.txt')), 'the source was not moved');
  });

  it('the instance keeps serving after all of it', async () => {
    const out = (await nc.call('attempt', '/inside.txt')) as Record<string, unknown>;
    assert.deepEqual(out['content'], ['inside']);
  });
});
