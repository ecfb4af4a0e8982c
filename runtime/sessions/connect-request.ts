import type { ClientRecord, RejectRecord } from '../../host-api/protocol.ts';
import { status, type InfoObject } from '../common/status-codes.ts';
import type { RtmpCommand } from '../rtmp/connection.ts';
import { connectObjectProblem, targetProblem, type ArgumentLimits } from './argument-budget.ts';
import { parseConnectTarget, type ConnectTarget } from './connect-target.ts';

/** The level of a connection's end line: a budget refusal's own line is the rate-limited budget line. */
export type EndLevel = 'debug' | 'info' | 'warn';

/**
 * How a pending connect is answered — the one vocabulary of ClientSession.decide, whoever decides:
 * the script's onConnect return value, its acceptConnection / rejectConnection / redirectConnection,
 * the router (unknown application, instance caps), the instance (a failed start) or the connect timer.
 */
export type ConnectOutcome =
  | { accept: true }
  | {
      accept: false;
      /** The info object of the connect's `_error` (Rejected, InvalidApp, a redirect…). */
      info: InfoObject;
      /** Why, for the connection's end line. */
      reason: string;
      level: EndLevel;
    };

export const ACCEPT: ConnectOutcome = { accept: true };

/** Refused by the server: the client gets `info`. */
export function refused(info: InfoObject, reason: string, level: EndLevel = 'info'): ConnectOutcome {
  return { accept: false, info, reason, level };
}

/** The script's rejectConnection(client, errObj) / redirectConnection(client, uri, …), or onConnect returning false. */
export function rejectedByScript(rejection: RejectRecord): ConnectOutcome {
  if (rejection.redirect) {
    return refused(status.connectRedirect(rejection.redirect, rejection.description, rejection.application), 'redirected by the application');
  }
  return refused(status.connectRejected(rejection.description, rejection.application), 'rejected by the application');
}

/** What the connect command says about the client: ClientRecord fields besides id, access and transport. */
export type ConnectFields = Pick<ClientRecord, 'agent' | 'referrer' | 'pageUrl' | 'uri' | 'objectEncoding'>;

export interface ConnectRequest {
  target: ConnectTarget;
  fields: ConnectFields;
  args: unknown[];
}

/** Why a connect is refused before it is routed, with the budget it hit (if any). */
export interface ConnectRefusal {
  outcome: ConnectOutcome;
  budget?: string;
}

/**
 * Reads a connect command: the target app/instance and the client's properties, each checked
 * against the argument budgets before anything is routed, stored or logged.
 */
export function readConnectRequest(command: RtmpCommand, limits: ArgumentLimits): ConnectRequest | ConnectRefusal {
  const props = (command.commandObject ?? null) as Record<string, unknown> | null;
  const objectProblem = connectObjectProblem(props, limits);
  if (objectProblem) return overBudget('rtmp.maxUrlChars', objectProblem);
  const target = parseConnectTarget(props?.['tcUrl'], props?.['app']);
  if (!target) return { outcome: refused(status.connectRejected('Connect needs a tcUrl or app.'), 'connect without tcUrl or app', 'warn') };
  const nameProblem = targetProblem(target, limits);
  if (nameProblem) return overBudget('rtmp.maxNameChars', nameProblem);
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  const fields: ConnectFields = {
    agent: text(props?.['flashVer']),
    referrer: text(props?.['swfUrl']),
    pageUrl: text(props?.['pageUrl']),
    uri: text(props?.['tcUrl']).replace(/(:\/\/)[^/@]*@/, '$1'),
    objectEncoding: props?.['objectEncoding'] === 3 ? 3 : 0,
  };
  return { target, fields, args: command.args };
}

/** A connect over an argument budget: NetConnection.Connect.Rejected with the budget's text. */
export function overBudget(budget: string, description: string): ConnectRefusal {
  return { budget, outcome: refused(status.connectRejected(description), `over budget: ${budget}`, 'debug') };
}
