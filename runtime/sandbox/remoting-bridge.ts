import type { HostCalls } from '../../host-api/protocol.ts';
import { count, list, text } from './bridge-arguments.ts';
import { ScriptRemoting } from './script-remoting.ts';

type NcHostCalls = Pick<HostCalls, 'ncConnect' | 'ncCall' | 'ncClose' | 'ncAddHeader'>;

/**
 * The isolate → host half of server-side NetConnection, split by URL: an http(s):// connect makes
 * a Flash Remoting connection served here (script-remoting.ts); anything else goes on to the
 * RTMP connections of the instance (`rtmp`, from media-bridge.ts). One NetConnection object may
 * switch between the two by connecting again.
 */
export function createNcHostCalls(remoting: ScriptRemoting, rtmp: Pick<HostCalls, 'ncConnect' | 'ncCall' | 'ncClose'>): NcHostCalls {
  return {
    ncConnect: (ncId, uri, args) => {
      const id = count(ncId, 'ncId');
      const target = text(uri, 'uri');
      if (!ScriptRemoting.isGatewayUri(target)) {
        remoting.forget(id);
        return rtmp.ncConnect(id, target, args);
      }
      rtmp.ncClose(id); // an RTMP connection this object had before is closed (no-op when none)
      return remoting.connect(id, target);
    },
    ncCall: (ncId, method, args, responderId) => {
      const id = count(ncId, 'ncId');
      if (!remoting.has(id)) return rtmp.ncCall(id, method, args, responderId);
      return remoting.call(id, text(method, 'method'), list(args, 'args'), count(responderId, 'responderId'));
    },
    ncClose: (ncId) => {
      const id = count(ncId, 'ncId');
      remoting.forget(id);
      rtmp.ncClose(id);
    },
    ncAddHeader: (ncId, name, mustUnderstand, value) => remoting.addHeader(count(ncId, 'ncId'), text(name, 'name'), mustUnderstand === true, value),
  };
}
