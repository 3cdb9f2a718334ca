// The agent's gRPC connection to the manager (registration, claims, inventory).
//
// Each node dials on a connection of its own, as separate machines do: grpc-js
// otherwise shares one connection among every channel of a process with the
// same address, credentials and options, so a thousand simulated nodes made one
// TLS handshake between them (a storm that measured nothing of the real one),
// and one stuck connection held all of them. The connection's own reconnect
// backoff stays inside the agent's retry window (grpc-js's grows to 120 s: a
// connection that failed a few times in a storm sat idle that long while the
// manager had long been free). A connection idle for a minute is closed: the
// manager does not hold ten thousand idle TLS sessions for rare claims.
import { isIP } from 'node:net';
import type { ChannelOptions } from '@grpc/grpc-js';
import type { BackoffPolicy } from '@metalfleet/domain';
import { AgentService } from '@metalfleet/proto';
import { createClient, type ServiceClient } from '@metalfleet/transport';
import { serverNameForIpAddress, type ManagerTrust } from './trust.ts';

/** A connection to the manager: who we trust and the gRPC client that uses it. */
export interface ManagerConnection {
  trust: ManagerTrust;
  client: ServiceClient<typeof AgentService>;
  close: () => void;
}

/** The host of a `host:port` or `[v6]:port` address. */
export const hostOf = (address: string): string => address.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');

export function managerChannelOptions(backoff: BackoffPolicy, tlsToIpAddress = false): ChannelOptions {
  return {
    ...(tlsToIpAddress ? { 'grpc.ssl_target_name_override': serverNameForIpAddress } : {}),
    'grpc.use_local_subchannel_pool': 1,
    'grpc.initial_reconnect_backoff_ms': backoff.initialMs,
    'grpc.max_reconnect_backoff_ms': backoff.maxMs,
    'grpc.client_idle_timeout_ms': 60_000,
  };
}

export function openManagerConnection(address: string, trust: ManagerTrust, backoff: BackoffPolicy): ManagerConnection {
  const tlsToIpAddress = trust.caPem !== null && isIP(hostOf(address)) !== 0;
  return { trust, ...createClient(AgentService, address, trust.grpc, managerChannelOptions(backoff, tlsToIpAddress)) };
}
