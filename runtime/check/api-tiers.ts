/**
 * How well this runtime supports each FMS server-side API member (fms-api.md), true to what
 * host-api really implements — not to what FMS documents:
 *   supported    behaves as on FMS
 *   partial      exists and runs, but part of its effect is missing (noted)
 *   unsupported  a stub that logs "unsupported" and returns a neutral value, or not defined at all
 * test/unit/check-api-tiers.test.ts reads host-api's sources and fails when a member host-api
 * reports as unsupported is listed here as supported, so the two cannot drift apart silently.
 *
 * Names: `application.x`, `client.x` (Client instances, Client.prototype), `stream.x`, `nc.x`
 * (server-side NetConnection), `ns.x` (NetStream), `so.x` (SharedObject instances), statics as
 * `Stream.get`, constructors as `new X`, globals bare.
 */
export type Tier = 'supported' | 'partial' | 'unsupported';

export interface TierEntry {
  tier: Tier;
  note?: string;
}

const S: TierEntry = { tier: 'supported' };
const partial = (note: string): TierEntry => ({ tier: 'partial', note });
const unsupported = (note: string): TierEntry => ({ tier: 'unsupported', note });

const STUB = 'stub: logs "unsupported" and returns a neutral value';
const NOT_DEFINED = 'not defined in this runtime (ReferenceError/undefined)';
const NEVER_CALLED = 'handler is never called';
const RTMFP = 'RTMFP/peer-to-peer is not implemented';

export const API_TIERS: Readonly<Record<string, TierEntry>> = {
  // ---- globals (fms-api §1)
  trace: S,
  load: S,
  setInterval: S,
  clearInterval: S,
  setTimeout: unsupported('FMS has no setTimeout either; defined here only with scripts.exposeSetTimeout'),
  clearTimeout: unsupported('FMS has no clearTimeout either; defined here only with scripts.exposeSetTimeout'),
  getGlobal: unsupported(`secure.asc mode: ${NOT_DEFINED}`),
  protectObject: unsupported(`secure.asc mode: ${NOT_DEFINED}`),
  setAttributes: unsupported(NOT_DEFINED),

  // ---- application (§2)
  'application.clients': S,
  'application.name': S,
  'application.hostname': S,
  'application.server': S,
  'application.config': S,
  'application.allowDebug': partial('stored; no debugger can attach'),
  'application.acceptConnection': S,
  'application.rejectConnection': S,
  'application.redirectConnection': S,
  'application.disconnect': S,
  'application.broadcastMsg': S,
  'application.shutdown': S,
  'application.getStats': partial('traffic counters (bytes, msg_in/out/dropped) cover the clients connected now; media dropped by server-side Stream relays is not in msg_dropped'),
  'application.gc': S,
  'application.registerClass': S,
  'application.registerProxy': unsupported(STUB),
  'application.clearSharedObjects': S,
  'application.clearStreams': unsupported(STUB),
  'application.denyPeerLookup': unsupported(`${RTMFP}; ${STUB}`),
  'application.sendPeerRedirect': unsupported(`${RTMFP}; ${STUB}`),
  'application.onAppStart': S,
  'application.onAppStop': S,
  'application.onConnect': S,
  'application.onDisconnect': S,
  'application.onPublish': S,
  'application.onUnpublish': S,
  'application.onStatus': S,
  'application.onConnectAccept': unsupported(`communication components framework; ${NEVER_CALLED}`),
  'application.onConnectReject': unsupported(`communication components framework; ${NEVER_CALLED}`),
  'application.onPeerLookup': unsupported(`${RTMFP}; ${NEVER_CALLED}`),
  'application.onHTTPIdent': unsupported(NEVER_CALLED),

  // ---- Client (§3)
  'client.id': S,
  'client.ip': S,
  'client.agent': S,
  'client.referrer': S,
  'client.pageUrl': S,
  'client.protocol': S,
  'client.uri': S,
  'client.objectEncoding': S,
  'client.secure': S,
  'client.protocolVersion': S,
  'client.farAddress': S,
  'client.readAccess': S,
  'client.writeAccess': S,
  'client.audioSampleAccess': partial('stored; no player sample access is granted over RTMP here'),
  'client.videoSampleAccess': partial('stored; no player sample access is granted over RTMP here'),
  'client.virtualKey': partial('stored; Stream.setVirtualPath mappings are not implemented'),
  'client.call': S,
  'client.getStats': partial('bw_in/bw_out are total KB (as application.getStats); the FMS 3 *_queue_* and dropped_audio/video_* fields are absent'),
  'client.getBandwidthLimit': S,
  'client.setBandwidthLimit': S, // server→client shaped (drops to keyframes), client→server announced (Set Peer Bandwidth)
  'client.ping': partial('sends an RTMP ping and returns whether it went out, without waiting for the answer; the round trip shows in getStats().ping_rtt'),
  'client.checkBandwidth': unsupported(`native bandwidth detection: ${STUB} (a script's own Client.prototype.checkBandwidth works)`),
  'client.getStreamLength': unsupported(`${STUB} when the script calls it (a client's RPC getStreamLength is answered natively)`),
  'client.introducePeer': unsupported(`${RTMFP}; ${STUB}`),
  'client.farID': unsupported(RTMFP),
  'client.farNonce': unsupported(RTMFP),
  'client.nearID': unsupported(RTMFP),
  'client.nearNonce': unsupported(RTMFP),
  'client.nearAddress': unsupported(RTMFP),
  'client.reportedAddresses': unsupported(RTMFP),
  'client.__resolve': partial('consulted for unknown RPC names only, not for every undefined property'),

  // ---- server-side NetConnection (§4)
  'new NetConnection': S,
  'nc.connect': S, // rtmp:// and http(s):// (Flash Remoting); a URL built at run time is flagged as a pattern
  'nc.call': S,
  'nc.close': S,
  'nc.isConnected': S,
  'nc.uri': S,
  'nc.objectEncoding': S,
  'nc.onStatus': S,
  'nc.addHeader': S,

  // ---- server-side NetStream (§5)
  'new NetStream': S,
  'new NetStream(nc, groupspec)': unsupported(`${RTMFP}; the group is ignored`),
  'ns.attach': S,
  'ns.publish': S,
  'ns.send': S,
  'ns.setBufferTime': S,
  'ns.bufferTime': S,
  'ns.time': S,
  'ns.onStatus': S,

  // ---- Stream (§6)
  'Stream.get': S,
  'Stream.destroy': S,
  'Stream.length': S,
  'Stream.size': unsupported(STUB),
  'Stream.setVirtualPath': unsupported(STUB),
  'Stream.getOnMetaData': unsupported(NOT_DEFINED),
  'stream.play': S,
  'stream.record': S,
  'stream.send': S,
  'stream.name': S,
  'stream.publishQueryString': S,
  'stream.onStatus': S,
  'stream.setBufferTime': S,
  'stream.bufferTime': S,
  'stream.clear': S,
  'stream.flush': unsupported(STUB),
  'stream.getOnMetaData': unsupported(STUB),
  'stream.setVirtualPath': unsupported(STUB),
  'stream.time': S,
  'stream.syncWrite': unsupported(NOT_DEFINED),
  'stream.maxQueueDelay': unsupported(NOT_DEFINED),
  'stream.maxQueueSize': unsupported(NOT_DEFINED),
  'stream.receiveAudio': unsupported(NOT_DEFINED),
  'stream.receiveVideo': unsupported(NOT_DEFINED),

  // ---- SharedObject (§7)
  'SharedObject.get': S,
  'SharedObject.get(name, persistence, netConnection)': partial('proxied: get/set/send/size/version/onSync/onStatus work; lock/unlock return -1 as FMS documents; flush/clear/purge return false'),
  'SharedObject.commit': unsupported(STUB),
  'so.getProperty': S,
  'so.setProperty': S,
  'so.getPropertyNames': S,
  'so.size': S,
  'so.send': S,
  'so.lock': S,
  'so.unlock': S,
  'so.flush': S,
  'so.clear': S,
  'so.close': S,
  'so.purge': S,
  'so.version': S,
  'so.name': S,
  'so.onSync': S,
  'so.mark': unsupported(STUB),
  'so.onStatus': partial('called for proxied SOs with the owner\'s refusals (NoReadAccess, NoWriteAccess…); a local SO raises none'),
  'so.resyncDepth': S,
  'so.isDirty': S,
  'so.autoCommit': unsupported(NOT_DEFINED),

  // ---- File, XML, LoadVars, sockets, web services, AMS-era classes (§8, §9)
  'new File': partial('confined to the application folder and its virtual directories (Application.xml JSEngine/FileObject, scripts.fileVirtualDirectories); readBytes/writeBytes are stubs'),
  'file.name': S,
  'file.exists': S,
  'file.isFile': S,
  'file.isDirectory': S,
  'file.isOpen': S,
  'file.type': S,
  'file.mode': S,
  'file.length': S,
  'file.lastModified': S,
  'file.creationTime': S,
  'file.canRead': S,
  'file.canWrite': S,
  'file.canAppend': S,
  'file.canReplace': S,
  'file.read': S,
  'file.readln': S,
  'file.readlns': S,
  'file.readAll': S,
  'file.readByte': S,
  'file.mkdir': S,
  'file.remove': S,
  'file.renameTo': S,
  'file.copyTo': S,
  'file.open': S,
  'file.close': S,
  'file.write': S,
  'file.writeln': S,
  'file.writeAll': S,
  'file.writeByte': S,
  'file.eof': S,
  'file.seek': S,
  'file.flush': S,
  'file.list': S,
  'file.toString': S,
  'file.position': S,
  'file.readBytes': unsupported(`ByteArray I/O: ${STUB}`),
  'file.writeBytes': unsupported(`ByteArray I/O: ${STUB}`),
  'new XML': S,
  'new XMLNode': S,
  'new LoadVars': partial('HTTP through the host: hosts outside scripts.http.allowHosts (loopback always allowed) get onLoad(false)'),
  'new XMLSocket': unsupported(`XMLSocket class: ${STUB}`),
  'new XMLStreams': unsupported(`XMLStreams class: ${NOT_DEFINED}`),
  'new WebService': unsupported(`WebService class: ${STUB}`),
  'new SOAPCall': unsupported(NOT_DEFINED),
  'new Log': unsupported(NOT_DEFINED),
  'new ByteArray': unsupported(NOT_DEFINED),
  'new GroupSpecifier': unsupported(`${RTMFP}; ${NOT_DEFINED}`),
  'new NetGroup': unsupported(`${RTMFP}; ${NOT_DEFINED}`),
  'new GroupControl': unsupported(`${RTMFP}; ${NOT_DEFINED}`),
  'new MulticastStreamIngest': unsupported(`${RTMFP}; ${NOT_DEFINED}`),
  'new ProxyStream': unsupported(NOT_DEFINED),
  'new SHA256': unsupported(NOT_DEFINED),
};

/** Host classes a script may name (as `new X`, `X.member`, or a bare reference); the key for the bare use. */
export const CLASS_NAMES: readonly string[] = [
  'NetConnection', 'NetStream', 'Stream', 'SharedObject', 'Client',
  'File', 'XML', 'XMLNode', 'LoadVars', 'XMLSocket', 'XMLStreams', 'WebService', 'SOAPCall', 'Log',
  'ByteArray', 'GroupSpecifier', 'NetGroup', 'GroupControl', 'MulticastStreamIngest', 'ProxyStream', 'SHA256',
];

/** What kind of object an instance prefix (`client.`, `nc.`…) stands for, keyed by constructor/class. */
export const INSTANCE_PREFIX: Readonly<Record<string, string>> = {
  Client: 'client',
  NetConnection: 'nc',
  NetStream: 'ns',
  Stream: 'stream',
  SharedObject: 'so',
  File: 'file',
};

export function tierOf(member: string): TierEntry | undefined {
  return Object.hasOwn(API_TIERS, member) ? API_TIERS[member] : undefined;
}
