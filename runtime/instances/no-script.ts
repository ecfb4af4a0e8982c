import type { SandboxEvents } from '../../host-api/protocol.ts';
import type { ApplicationScript, ScriptEventName } from './script-generation.ts';

/** An application folder without a script: FMS accepts every client and defines no methods. */
export class NoScript implements ApplicationScript {
  async load(): Promise<void> {}
  async start(): Promise<void> {}
  async dispatch<K extends ScriptEventName>(event: K, payload: SandboxEvents[K]['payload']): Promise<SandboxEvents[K]['result']> {
    return noScriptReply(event, payload) as SandboxEvents[K]['result'];
  }
  dispose(): void {}
  retire(): void {}
  sourceFiles(): string[] {
    return [];
  }
  hostBytes(): number {
    return 0;
  }
}

/** Every client accepted, every method missing, every unload allowed; nothing else answers. */
function noScriptReply(event: ScriptEventName, payload: unknown): unknown {
  switch (event) {
    case 'connect':
      return 'accept';
    case 'call':
    case 'ncCall':
      return { ok: false, code: 'NetConnection.Call.Failed', description: `Method not found (${(payload as { method: string }).method}).` };
    case 'appStop':
      return true;
    default:
      return null;
  }
}
