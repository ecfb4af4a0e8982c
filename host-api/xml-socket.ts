/**
 * XMLSocket and WebService (fms-api §9, P2): no surveyed script needs them, so they have the right
 * shape and log "unsupported" once when used. XMLSocket.connect() answers false at once (no
 * onConnect event follows); a WebService never fires onLoad.
 */
import { defineMethod, unsupported } from './host.ts';

export function XMLSocket(this: object): void {}

const socketProto = XMLSocket.prototype as Record<string, unknown>;

defineMethod(socketProto, 'connect', function (): boolean {
  unsupported('XMLSocket');
  return false;
});
defineMethod(socketProto, 'send', function (): void {
  unsupported('XMLSocket');
});
defineMethod(socketProto, 'close', function (): void {});

export function WebService(this: object): void {
  unsupported('WebService');
}
