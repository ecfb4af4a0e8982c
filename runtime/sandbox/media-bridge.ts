import type { CallResultRecord, HostCalls } from '../../host-api/protocol.ts';
import { SHARED_OBJECT_OPS, type ClientCallResult, type MediaHooks, type SharedObjectHooks, type SharedObjectOp } from '../instances/script-contract.ts';
import { BridgeArgumentError, count, list, text } from './bridge-arguments.ts';

type MediaHostCalls = Pick<
  HostCalls,
  | 'soOp' | 'soClearPath' | 'soGetProxied'
  | 'ncConnect' | 'ncCall' | 'ncClose' | 'nsCreate' | 'nsAttach' | 'nsPublish' | 'nsSend' | 'nsTime'
  | 'streamGet' | 'streamPlay' | 'streamRecord' | 'streamSend' | 'streamDestroy' | 'streamLength' | 'streamTime' | 'streamClear'
>;

const PUBLISH_TYPES = ['live', 'record', 'append'] as const;

function optionalId(value: unknown, what: string): number | null {
  return value === null || value === undefined ? null : count(value, what);
}

/**
 * The isolate → host half of server-side NetConnection/NetStream/Stream: validates every argument
 * (it is script data) and forwards to the instance's media hooks.
 */
export function createMediaHostCalls(
  media: MediaHooks,
  sharedObjects: SharedObjectHooks,
  deliverResult: (responderId: number, result: CallResultRecord) => void,
): MediaHostCalls {
  return {
    soOp: (name, op, args) => {
      if (!SHARED_OBJECT_OPS.includes(op as SharedObjectOp)) throw new BridgeArgumentError('unknown SharedObject operation');
      return sharedObjects.op(text(name, 'name'), op as SharedObjectOp, list(args, 'args'));
    },
    soClearPath: (soPath) => sharedObjects.clearSharedObjects(text(soPath, 'soPath')),
    soGetProxied: (key, ncId, name, persistent) => sharedObjects.getProxied(text(key, 'key'), count(ncId, 'ncId'), text(name, 'name'), persistent === true),
    ncConnect: (ncId, uri, args) => media.ncConnect(count(ncId, 'ncId'), text(uri, 'uri'), list(args, 'args')),
    ncCall: (ncId, method, args, responderId) => {
      const id = count(responderId, 'responderId');
      const onResult = id > 0 ? (result: ClientCallResult) => deliverResult(id, result) : undefined;
      return media.ncCall(count(ncId, 'ncId'), text(method, 'method'), list(args, 'args'), onResult);
    },
    ncClose: (ncId) => media.ncClose(count(ncId, 'ncId')),
    nsCreate: (nsId, ncId) => media.nsCreate(count(nsId, 'nsId'), count(ncId, 'ncId')),
    nsAttach: (nsId, streamName) => media.nsAttach(count(nsId, 'nsId'), streamName === null ? null : text(streamName, 'streamName')),
    nsPublish: (nsId, name, type) => {
      if (!PUBLISH_TYPES.includes(type)) throw new BridgeArgumentError('type must be live, record or append');
      return media.nsPublish(count(nsId, 'nsId'), name === false ? false : text(name, 'name'), type);
    },
    nsSend: (nsId, values) => media.nsSend(count(nsId, 'nsId'), list(values, 'values')),
    nsTime: (nsId) => media.nsTime(count(nsId, 'nsId')),
    streamGet: (name) => media.streamGet(text(name, 'name')),
    streamPlay: (name, source, startSec, lengthSec, reset, ncId) =>
      media.streamPlay(
        text(name, 'name'),
        source === false ? false : text(source, 'source'),
        count(startSec, 'startTime'),
        count(lengthSec, 'length'),
        typeof reset === 'boolean' ? reset : count(reset, 'reset'),
        optionalId(ncId, 'remoteConnection'),
      ),
    streamRecord: (name, mode, maxDurationSec, maxSizeKb) => {
      if (mode !== false && mode !== 'record' && mode !== 'append') throw new BridgeArgumentError('mode must be record, append or false');
      const duration = optionalId(maxDurationSec, 'maxDuration');
      const size = optionalId(maxSizeKb, 'maxSize');
      return media.streamRecord(text(name, 'name'), mode, duration ?? undefined, size ?? undefined);
    },
    streamSend: (name, handler, args) => media.streamSend(text(name, 'name'), text(handler, 'handler'), list(args, 'args')),
    streamDestroy: (name) => media.streamDestroy(text(name, 'name')),
    streamLength: (name) => media.streamLength(text(name, 'name')),
    streamTime: (name) => media.streamTime(text(name, 'name')),
    streamClear: (name) => media.streamClear(text(name, 'name')),
  };
}
