import type { ApplicationScript, CallOutcome, ConnectOutcome } from './script-contract.ts';

/** An application folder without a script: FMS accepts every client and defines no methods. */
export class NoScript implements ApplicationScript {
  async load(): Promise<void> {}
  async start(): Promise<void> {}
  async connect(): Promise<ConnectOutcome> {
    return 'accept';
  }
  async disconnect(): Promise<void> {}
  async call(_clientId: string, method: string): Promise<CallOutcome> {
    return { ok: false, code: 'NetConnection.Call.Failed', description: `Method not found (${method}).` };
  }
  async publish(): Promise<void> {}
  async unpublish(): Promise<void> {}
  async mediaEvent(): Promise<void> {}
  async ncCall(_ncId: number, method: string): Promise<CallOutcome> {
    return this.call('', method);
  }
  async stop(): Promise<boolean> {
    return true;
  }
  dispose(): void {}
  retire(): void {}
  sourceFiles(): string[] {
    return [];
  }
}
