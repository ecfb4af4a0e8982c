/**
 * The one catalogue of error codes. Three families (see CONVENTIONS.md):
 * protocol errors close one connection, script errors affect one instance,
 * host/config errors are the operator's. docs/errors.md lists every code; a unit test keeps them in sync.
 */

export const ErrorCode = {
  // protocol
  HandshakeFailed: 'RTMP_HANDSHAKE_FAILED',
  ChunkInvalid: 'RTMP_CHUNK_INVALID',
  ChunkSizeInvalid: 'RTMP_CHUNK_SIZE_INVALID',
  MessageTooLarge: 'RTMP_MESSAGE_TOO_LARGE',
  TooManyChunkStreams: 'RTMP_TOO_MANY_CHUNK_STREAMS',
  AmfInvalid: 'AMF_INVALID',
  CommandInvalid: 'RTMP_COMMAND_INVALID',
  PeerTooSlow: 'RTMP_PEER_TOO_SLOW',
  ConnectTimeout: 'RTMP_CONNECT_TIMEOUT',
  IdleTimeout: 'RTMP_IDLE_TIMEOUT',
  AssemblyBudget: 'RTMP_ASSEMBLY_BUDGET',
  ArgumentTooLarge: 'RTMP_ARGUMENT_TOO_LARGE',
  ConnectionLimit: 'CONNECTION_LIMIT',
  HttpPeerTooSlow: 'HTTP_PEER_TOO_SLOW',
  // HTTP egress (HLS): the request or one stream's packaging is affected, nothing else
  HlsBadRequest: 'HLS_BAD_REQUEST',
  HlsBudget: 'HLS_BUDGET',
  HlsCodecUnsupported: 'HLS_CODEC_UNSUPPORTED',
  HlsPackagingFailed: 'HLS_PACKAGING_FAILED',
  RtmpeRefused: 'RTMPE_REFUSED',
  RtmpeInvalid: 'RTMPE_INVALID',
  TlsHandshakeFailed: 'TLS_HANDSHAKE_FAILED',
  RtmptRequestInvalid: 'RTMPT_REQUEST_INVALID',
  RtmptSessionExpired: 'RTMPT_SESSION_EXPIRED',
  // script
  ScriptSyntax: 'SCRIPT_SYNTAX',
  ScriptThrown: 'SCRIPT_THROWN',
  ScriptTimeout: 'SCRIPT_TIMEOUT',
  ScriptOutOfMemory: 'SCRIPT_OUT_OF_MEMORY',
  ScriptLoadFailed: 'SCRIPT_LOAD_FAILED',
  ScriptFileRefused: 'SCRIPT_FILE_REFUSED',
  ScriptHttpFailed: 'SCRIPT_HTTP_FAILED',
  ScriptUnloadTimeout: 'SCRIPT_UNLOAD_TIMEOUT',
  ScriptIsolateLost: 'SCRIPT_ISOLATE_LOST',
  ScriptRemotingFailed: 'SCRIPT_REMOTING_FAILED',
  ScriptHostMemory: 'SCRIPT_HOST_MEMORY',
  // budgets: the one who asked is refused; nothing else is affected
  SharedObjectTooLarge: 'SHARED_OBJECT_TOO_LARGE',
  ScriptFileTooLarge: 'SCRIPT_FILE_TOO_LARGE',
  ScriptOutboundLimit: 'SCRIPT_OUTBOUND_LIMIT',
  // host / config
  InstanceLimit: 'INSTANCE_LIMIT',
  ConfigInvalid: 'CONFIG_INVALID',
  ListenFailed: 'LISTEN_FAILED',
  ShutdownTimeout: 'SHUTDOWN_TIMEOUT',
  TlsCertificateInvalid: 'TLS_CERTIFICATE_INVALID',
  StorageWriteFailed: 'STORAGE_WRITE_FAILED',
  DataDirUnwritable: 'DATA_DIR_UNWRITABLE',
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export class FmsRuntimeError extends Error {
  readonly code: ErrorCodeValue;
  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Malformed or hostile bytes from a peer: close that connection only. */
export class ProtocolError extends FmsRuntimeError {}

/** A script failed (syntax, throw, timeout, out of memory): affects that instance only. */
export class ScriptError extends FmsRuntimeError {
  readonly filename?: string;
  readonly lineno?: number;
  readonly linebuf?: string;
  constructor(
    code: ErrorCodeValue,
    message: string,
    where: { filename?: string; lineno?: number; linebuf?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.filename = where.filename;
    this.lineno = where.lineno;
    this.linebuf = where.linebuf;
  }
}

/** Operator-facing problems: bad flags, bad config, a port in use. */
export class ConfigError extends FmsRuntimeError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(ErrorCode.ConfigInvalid, `invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}
