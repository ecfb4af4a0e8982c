/**
 * The subset of FMS/AMS `Application.xml` (and `Vhost.xml`) that changes how a script behaves,
 * mapped onto per-app settings derived from the server config.
 *
 * Files read, later ones winning element by element:
 *   <appsDir>/Vhost.xml               VirtualHost/VirtualDirectory/Streams only
 *   <appsDir>/Application.xml         the server-wide default (FMS: conf/_defaultRoot_/_defaultVHost_/)
 *   <appsDir>/<app>/Application.xml   per application
 *
 * Honoured (fms-api §0, Adobe's Application.xml reference):
 *   JSEngine/RuntimeSize (KB)        → memory limit of the isolate, never below the server's: V8 objects
 *                                      are several times SpiderMonkey's, so the FCS-era 1024 KB default
 *                                      taken literally would starve scripts that ran fine on FMS
 *   JSEngine/MaxTimeOut (s)          → longest a handler may run; 0 (FMS: no limit) keeps the server's
 *                                      timeout, because the host never runs script code without one
 *   JSEngine/ScriptLibPath           → load() search path (';'-separated), before the server's libPaths
 *   JSEngine/ApplicationObject/config/* → application.config (string values)
 *   MaxAppIdleTime (s)               → idle unload time (Application.GC)
 *   LoadOnStartup                    → the _definst_ instance starts with the server
 *   JSEngine/FileObject/VirtualDirectory → "/virtual;folder": File paths under /virtual live in folder
 *                                      (before scripts.fileVirtualDirectories; FMS 2 SSAS reference, File)
 *   StreamManager/VirtualDirectory/Streams  → "prefix;folder": recorded streams named prefix/... live there
 *   Client/Access/AudioSampleAccess, VideoSampleAccess (enabled="true") → default client.*SampleAccess
 *   HLS/Enabled, HLS/Packaging (on-request|always), HLS/LowLatency, HLS/PartDuration (ms),
 *   HLS/SegmentDuration (ms; Adobe's HLSMediaFileDuration also read), HLS/WindowSegments (Adobe's
 *   HLSSlidingWindowLength also read) → this app's HLS packaging (hls.* config keys are the defaults)
 *   Recording/MaxDuration (s), MaxSize (KB), MaxDurationCap, MaxSizeCap → recording limits (-1 = none)
 *   Client/Bandwidth/ServerToClient, ClientToServer (bytes/s) → every client's limits (0 = none)
 *   Client/BandwidthCap/ServerToClient, ClientToServer (bytes/s) → the most setBandwidthLimit may set
 * Everything else that sets something is reported once as unsupported (an empty element sets
 * nothing and is not reported), so an operator sees at a glance what the port ignores.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { PACKAGING_MODES, type HlsSettings } from '../media/hls/hls-settings.ts';
import { NO_RECORDING_SETTINGS, type RecordingSettings } from './recording-limits.ts';
import { NO_BANDWIDTH_LIMITS, type BandwidthSettings } from '../sessions/bandwidth-settings.ts';
import { isEmpty, readXmlFile, type XmlElement } from './xml-file.ts';

export interface AppSettings {
  memoryLimitMb: number;
  handlerTimeoutMs: number;
  idleUnloadSec: number;
  libPaths: string[];
  loadOnStartup: boolean;
  /** application.config (Application.xml JSEngine/ApplicationObject/config children). */
  config: Record<string, string>;
  /** StreamManager/VirtualDirectory/Streams: stream-name prefix (no slashes around it) → absolute folder. */
  streamDirs: { prefix: string; dir: string }[];
  /**
   * JSEngine/FileObject/VirtualDirectory: "/virtual;/absolute/folder" entries for File, in the format
   * of scripts.fileVirtualDirectories (the sandbox puts these first, so they win on the same prefix).
   */
  fileDirs: string[];
  /** Default client.audioSampleAccess / videoSampleAccess ('' = none, FMS default). */
  audioSampleAccess: string;
  videoSampleAccess: string;
  /** HLS packaging of this app's streams. */
  hls: HlsSettings;
  /** Recording/MaxDuration, MaxSize and their caps (recording-limits.ts). */
  recording: RecordingSettings;
  /** Client/Bandwidth and Client/BandwidthCap, bytes/s (0 = none). */
  bandwidth: BandwidthSettings;
}

/** The server-wide values the files start from (runtime/config.ts `scripts`). */
export interface ScriptDefaults {
  memoryLimitMb: number;
  handlerTimeoutMs: number;
  idleUnloadSec: number;
  libPaths: string[];
  hls: HlsSettings;
}

/** Something in a file we do not honour, or a value we could not use: one warning line each. */
export interface SettingIssue {
  file: string;
  /** Element path from the root, e.g. "Application/Process"; "" for the whole file. */
  element: string;
  reason: string;
}

type Apply = (settings: AppSettings, element: XmlElement, ctx: ApplyContext) => void;
interface ApplyContext {
  file: string;
  issue: (reason: string) => void;
}

function numberOf(element: XmlElement, ctx: ApplyContext): number | null {
  const n = Number(element.text);
  if (element.text === '' || !Number.isFinite(n) || n < 0) {
    ctx.issue(`"${element.text}" is not a non-negative number; server default kept`);
    return null;
  }
  return n;
}

/** A limit: a whole number, or -1 for "no limit" (FMS's default in every Recording element). */
function limitOf(element: XmlElement, ctx: ApplyContext): number | null {
  const n = Number(element.text);
  if (element.text === '' || !Number.isInteger(n) || n < -1) {
    ctx.issue(`"${element.text}" is not a whole number or -1; server default kept`);
    return null;
  }
  return n;
}

function recordingLimit(field: keyof RecordingSettings): Apply {
  return (settings, element, ctx) => {
    const n = limitOf(element, ctx);
    if (n !== null) settings.recording = { ...settings.recording, [field]: n };
  };
}

function bandwidth(field: keyof BandwidthSettings): Apply {
  return (settings, element, ctx) => {
    const n = numberOf(element, ctx);
    if (n !== null) settings.bandwidth = { ...settings.bandwidth, [field]: Math.floor(n) };
  };
}

function booleanOf(element: XmlElement, ctx: ApplyContext): boolean | null {
  const value = element.text.toLowerCase();
  if (value === 'true') return true;
  if (value === 'false') return false;
  ctx.issue(`"${element.text}" is not true or false; server default kept`);
  return null;
}

/** Paths in the files are relative to the file's folder; ${VARS} (FMS substitution variables) are not defined here. */
function folderOf(raw: string, ctx: ApplyContext): string | null {
  if (raw.includes('${')) {
    ctx.issue(`"${raw}" uses a substitution variable, which this server does not define; ignored`);
    return null;
  }
  return path.resolve(path.dirname(ctx.file), raw.replace(/\\/g, '/'));
}

function sampleAccess(field: 'audioSampleAccess' | 'videoSampleAccess'): Apply {
  return (settings, element) => {
    settings[field] = element.attrs['enabled']?.toLowerCase() === 'true' ? element.text || '/' : '';
  };
}

/** Element path (lower case, from below the root) → how it changes the settings. */
const APPLICATION_SETTINGS: Record<string, Apply> = {
  'jsengine/runtimesize': (s, e, ctx) => {
    const kb = numberOf(e, ctx);
    if (kb !== null && kb > 0) s.memoryLimitMb = Math.max(s.memoryLimitMb, Math.ceil(kb / 1024));
  },
  'jsengine/maxtimeout': (s, e, ctx) => {
    const sec = numberOf(e, ctx);
    if (sec !== null && sec > 0) s.handlerTimeoutMs = sec * 1000;
  },
  'jsengine/scriptlibpath': (s, e, ctx) => {
    const dirs = e.text.split(';').map((p) => p.trim()).filter(Boolean).map((p) => folderOf(p, ctx));
    s.libPaths = [...dirs.filter((d): d is string => d !== null), ...s.libPaths];
  },
  'jsengine/fileobject/virtualdirectory': fileDirectory,
  'jsengine/applicationobject/config': (s, e) => {
    for (const child of e.children) s.config[child.name] = child.text;
  },
  maxappidletime: (s, e, ctx) => {
    const sec = numberOf(e, ctx);
    if (sec !== null && sec > 0) s.idleUnloadSec = sec;
  },
  loadonstartup: (s, e, ctx) => {
    const on = booleanOf(e, ctx);
    if (on !== null) s.loadOnStartup = on;
  },
  'streammanager/virtualdirectory/streams': streamsDirectory,
  'client/access/audiosampleaccess': sampleAccess('audioSampleAccess'),
  'client/access/videosampleaccess': sampleAccess('videoSampleAccess'),
  'hls/enabled': hlsBoolean('enabled'),
  'hls/lowlatency': hlsBoolean('lowLatency'),
  'hls/packaging': (s, e, ctx) => {
    const mode = e.text.toLowerCase();
    if (PACKAGING_MODES.includes(mode)) s.hls = { ...s.hls, packaging: mode as HlsSettings['packaging'] };
    else ctx.issue(`"${e.text}" is not one of ${PACKAGING_MODES.join(', ')}; server default kept`);
  },
  'hls/partduration': hlsNumber('partTargetMs', 100, 5000),
  'hls/segmentduration': hlsNumber('segmentTargetMs', 500, 60_000),
  'hls/hlsmediafileduration': hlsNumber('segmentTargetMs', 500, 60_000),
  'hls/windowsegments': hlsNumber('windowSegments', 3, 1000),
  'hls/hlsslidingwindowlength': hlsNumber('windowSegments', 3, 1000),
  'client/bandwidth/servertoclient': bandwidth('serverToClient'),
  'client/bandwidth/clienttoserver': bandwidth('clientToServer'),
  'client/bandwidthcap/servertoclient': bandwidth('serverToClientCap'),
  'client/bandwidthcap/clienttoserver': bandwidth('clientToServerCap'),
  'recording/maxduration': recordingLimit('maxDurationSec'),
  'recording/maxsize': recordingLimit('maxSizeKb'),
  'recording/maxdurationcap': recordingLimit('maxDurationCapSec'),
  'recording/maxsizecap': recordingLimit('maxSizeCapKb'),
};

function hlsBoolean(field: 'enabled' | 'lowLatency'): Apply {
  return (s, e, ctx) => {
    const on = booleanOf(e, ctx);
    if (on !== null) s.hls = { ...s.hls, [field]: on };
  };
}

function hlsNumber(field: 'partTargetMs' | 'segmentTargetMs' | 'windowSegments', min: number, max: number): Apply {
  return (s, e, ctx) => {
    const n = numberOf(e, ctx);
    if (n === null) return;
    if (n < min || n > max) ctx.issue(`${n} is outside ${min}-${max}; server default kept`);
    else s.hls = { ...s.hls, [field]: Math.round(n) };
  };
}

const VHOST_SETTINGS: Record<string, Apply> = {
  'virtualdirectory/streams': streamsDirectory,
};

/** "<prefix>;<folder>" — FMS maps stream names starting with prefix/ to files in folder. */
function streamsDirectory(settings: AppSettings, element: XmlElement, ctx: ApplyContext): void {
  const semi = element.text.indexOf(';');
  if (semi < 0) {
    ctx.issue(`"${element.text}" is not "prefix;folder"; ignored`);
    return;
  }
  const prefix = element.text.slice(0, semi).trim().replace(/^\/+|\/+$/g, '');
  const dir = folderOf(element.text.slice(semi + 1).trim(), ctx);
  if (dir === null) return;
  // Later files are read later but win: put their mapping first.
  settings.streamDirs = [{ prefix, dir }, ...settings.streamDirs.filter((d) => d.prefix !== prefix)];
}

/**
 * "/virtual;folder" — FMS maps File paths starting with /virtual to folder. The virtual part must be
 * a path below "/" without "."/".." (ScriptPaths refuses such input, so the mapping could never match);
 * a Windows drive path (the FMS docs' "C:\logs") cannot mean anything on this host and is refused
 * rather than resolved as a folder named "C:" inside the app.
 */
function fileDirectory(settings: AppSettings, element: XmlElement, ctx: ApplyContext): void {
  const [rawVirtual = '', rawNative, extra] = element.text.split(';');
  const parts = rawVirtual.trim().split('/').filter((part) => part !== '');
  if (rawNative === undefined || extra !== undefined || !rawVirtual.trim().startsWith('/') || parts.length === 0 || parts.some((p) => p === '.' || p === '..' || p.includes('\\'))) {
    ctx.issue(`"${element.text}" is not "/virtual;folder"; ignored`);
    return;
  }
  const native = rawNative.trim();
  if (/^[A-Za-z]:/.test(native)) {
    ctx.issue(`"${native}" is a Windows drive path; ignored`);
    return;
  }
  const dir = native === '' ? null : folderOf(native, ctx);
  if (dir === null) {
    if (native === '') ctx.issue(`"${element.text}" has no folder; ignored`);
    return;
  }
  const virtual = `/${parts.join('/')}`;
  // Later files are read later but win: put their mapping first, replacing an earlier one of the same prefix.
  settings.fileDirs = [`${virtual};${dir}`, ...settings.fileDirs.filter((entry) => entry.split(';')[0] !== virtual)];
}

/** Walks the tree: known paths apply, known ancestors are descended, anything else that sets something is an issue. */
function applyFile(settings: AppSettings, file: string, rootName: string, table: Record<string, Apply>, issues: SettingIssue[]): void {
  const read = readXmlFile(file);
  if (read === null) return;
  if ('problem' in read) {
    issues.push({ file, element: '', reason: read.problem });
    return;
  }
  if (read.root.name.toLowerCase() !== rootName.toLowerCase()) {
    issues.push({ file, element: read.root.name, reason: `root element is not <${rootName}>; file ignored` });
    return;
  }
  const prefixes = new Set(Object.keys(table).flatMap((key) => key.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'))));
  const visit = (element: XmlElement, keyPath: string, shownPath: string) => {
    const ctx: ApplyContext = { file, issue: (reason) => issues.push({ file, element: shownPath, reason }) };
    const apply = table[keyPath];
    if (apply) {
      if (!isEmpty(element)) apply(settings, element, ctx);
    } else if (prefixes.has(keyPath)) {
      for (const child of element.children) visit(child, `${keyPath}/${child.name.toLowerCase()}`, `${shownPath}/${child.name}`);
    } else if (!isEmpty(element)) {
      issues.push({ file, element: shownPath, reason: 'not supported; ignored' });
    }
  };
  for (const child of read.root.children) visit(child, child.name.toLowerCase(), `${read.root.name}/${child.name}`);
}

/** The settings of one app and what its files asked for that we do not do. Cheap: a few small files per instance start. */
export function loadAppSettings(appsDir: string, appDir: string, defaults: ScriptDefaults): { settings: AppSettings; issues: SettingIssue[] } {
  const settings: AppSettings = {
    memoryLimitMb: defaults.memoryLimitMb,
    handlerTimeoutMs: defaults.handlerTimeoutMs,
    idleUnloadSec: defaults.idleUnloadSec,
    libPaths: [...defaults.libPaths],
    loadOnStartup: false,
    config: {},
    streamDirs: [],
    fileDirs: [],
    audioSampleAccess: '',
    videoSampleAccess: '',
    hls: { ...defaults.hls },
    recording: NO_RECORDING_SETTINGS,
    bandwidth: NO_BANDWIDTH_LIMITS,
  };
  const issues: SettingIssue[] = [];
  const [vhost, serverDefault, perApp] = settingsFiles(appsDir, appDir) as [string, string, string];
  applyFile(settings, vhost, 'VirtualHost', VHOST_SETTINGS, issues);
  applyFile(settings, serverDefault, 'Application', APPLICATION_SETTINGS, issues);
  applyFile(settings, perApp, 'Application', APPLICATION_SETTINGS, issues);
  if (settings.hls.partTargetMs * 2 > settings.hls.segmentTargetMs) {
    issues.push({ file: perApp, element: 'Application/HLS', reason: 'PartDuration must be at most half of SegmentDuration; server defaults kept' });
    settings.hls = { ...settings.hls, partTargetMs: defaults.hls.partTargetMs, segmentTargetMs: Math.max(defaults.hls.segmentTargetMs, 2 * defaults.hls.partTargetMs) };
  }
  return { settings, issues };
}

/** The files an app's settings come from, in the order they are applied. */
function settingsFiles(appsDir: string, appDir: string): string[] {
  return [path.join(appsDir, 'Vhost.xml'), path.join(appsDir, 'Application.xml'), path.join(appDir, 'Application.xml')];
}

/** Changes when any of the files is written, created or removed. */
function filesStamp(files: string[]): string {
  return files.map((f) => {
    const st = statSync(f, { throwIfNoEntry: false });
    return st ? `${st.mtimeMs}:${st.size}:${st.ino}` : '-';
  }).join('|');
}

/**
 * Gives an app's settings at each lookup (every connect and instance creation), so an edited
 * file applies to the next instance and to a hot reload. Parsing costs ~150 µs per file, on the
 * event loop: results are cached until a file's mtime/size changes (three stats, a few µs).
 * Each issue is logged once per process, not once per instance.
 */
export class AppSettingsReader {
  readonly #appsDir: string;
  readonly #defaults: ScriptDefaults;
  readonly #warn: (issue: SettingIssue) => void;
  readonly #reported = new Set<string>();
  readonly #cache = new Map<string, { stamp: string; settings: AppSettings }>();

  constructor(appsDir: string, defaults: ScriptDefaults, warn: (issue: SettingIssue) => void) {
    this.#appsDir = appsDir;
    this.#defaults = defaults;
    this.#warn = warn;
  }

  read(appDir: string): AppSettings {
    const stamp = filesStamp(settingsFiles(this.#appsDir, appDir));
    const cached = this.#cache.get(appDir);
    if (cached?.stamp === stamp) return cached.settings;
    const { settings, issues } = loadAppSettings(this.#appsDir, appDir, this.#defaults);
    this.#cache.set(appDir, { stamp, settings });
    for (const issue of issues) {
      const key = `${issue.file}\0${issue.element}\0${issue.reason}`;
      if (this.#reported.has(key)) continue;
      this.#reported.add(key);
      this.#warn(issue);
    }
    return settings;
  }
}
