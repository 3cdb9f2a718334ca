// How the agent calls the manager as its node (claims, inventory, certificate
// renewals): once it holds a client certificate, over a connection of its own
// that shows the certificate, with no credential sent (mutual TLS: the manager
// takes the node id from the certificate); before that, or where the manager
// speaks no TLS, with its credential on the registration's connection.
import { Metadata } from '@grpc/grpc-js';
import { isDomainError, type BackoffPolicy } from '@metalfleet/domain';
import type { AgentService } from '@metalfleet/proto';
import type { ServiceClient } from '@metalfleet/transport';
import type { ClientCertificate } from './client-certificate.ts';
import { hostOf, openManagerConnection, type ManagerConnection } from './manager-connection.ts';
import { managerCredentials } from './trust.ts';
import { credentialMetadata, type Registration } from './registration.ts';

/** A client and what to send with each call on it. */
export interface NodeCall {
  client: ServiceClient<typeof AgentService>;
  metadata: () => Metadata;
  /** Whether the call is authenticated by the client certificate (not the credential). */
  byCertificate: boolean;
}

/** Calls made before a certificate replaced has this long to finish on its connection (the longest deadline is 60 s). */
const replacedConnectionGraceMs = 90_000;

export interface NodeCalls {
  /** The way calls go now. */
  current(): NodeCall;
  /** With the credential on the registration's connection, whatever certificate the node holds. */
  byCredential(): NodeCall;
  /** From now on, over a connection that shows this certificate (the one before is closed once its calls are done). */
  useCertificate(certificate: ClientCertificate): void;
  close(): void;
}

export function createNodeCalls(deps: { address: string; registration: Registration; connection: ManagerConnection; backoff: BackoffPolicy }): NodeCalls {
  const { registration, connection } = deps;
  const withCredential: NodeCall = {
    client: connection.client, metadata: () => credentialMetadata(registration.nodeId, registration.credential), byCertificate: false,
  };
  let mutual: ManagerConnection | null = null;
  // Connections of certificates replaced, each closed when its grace is over.
  const retiring = new Map<NodeJS.Timeout, ManagerConnection>();
  return {
    current: () => (mutual ? { client: mutual.client, metadata: () => new Metadata(), byCertificate: true } : withCredential),
    byCredential: () => withCredential,
    useCertificate(certificate) {
      const { caPem } = connection.trust;
      if (caPem === null) return; // no TLS to the manager: nowhere to show a certificate
      const before = mutual;
      const grpc = managerCredentials(caPem, hostOf(deps.address), certificate);
      mutual = openManagerConnection(deps.address, { caPem, grpc }, deps.backoff);
      if (before) {
        const timer = setTimeout(() => {
          retiring.delete(timer);
          before.close();
        }, replacedConnectionGraceMs);
        timer.unref();
        retiring.set(timer, before);
      }
    },
    close() {
      mutual?.close();
      mutual = null;
      for (const [timer, replaced] of retiring) {
        clearTimeout(timer);
        replaced.close();
      }
      retiring.clear();
    },
  };
}

/**
 * One call as the node: the way calls go now, and, where the manager refuses the certificate (an operator revoked
 * it; a manager that asks for none), the same call with the credential.
 */
export async function callAsNode<T>(calls: NodeCalls, send: (call: NodeCall) => Promise<T>): Promise<T> {
  const call = calls.current();
  try {
    return await send(call);
  } catch (error) {
    if (!call.byCertificate || !isDomainError(error) || error.code !== 'unauthenticated') throw error;
    return send(calls.byCredential());
  }
}
