// Admission control for registrations: at most `concurrent` are processed at
// once (each checks a token, writes a node and its inventory); beyond that a
// registration is refused at once as `unavailable` with a retry-after hint
// (gRPC UNAVAILABLE, trailing metadata retry-after-ms) instead of queueing
// behind the others until the agent's deadline passes and it asks again.
import { DomainError } from '@metalfleet/domain';

export interface RegistrationAdmissionOptions {
  /** Registrations processed at once (0: no limit). */
  concurrent: number;
  /** What a refused agent is told to wait before it asks again (it adds jitter). */
  retryAfterMs: number;
}

export interface RegistrationAdmission {
  /** Runs `work` in a slot, or throws DomainError('unavailable', …, { retryAfterMs }) when every slot is taken. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Registrations refused so far. */
  refused(): number;
  active(): number;
}

export const defaultRegistrationAdmission: RegistrationAdmissionOptions = { concurrent: 64, retryAfterMs: 2000 };

export function createRegistrationAdmission(options: RegistrationAdmissionOptions): RegistrationAdmission {
  let active = 0;
  let refused = 0;
  return {
    async run(work) {
      if (options.concurrent > 0 && active >= options.concurrent) {
        refused += 1;
        throw new DomainError('unavailable', `the manager is busy with ${active} other registrations; retry after ${options.retryAfterMs} ms`, { retryAfterMs: options.retryAfterMs });
      }
      active += 1;
      try {
        return await work();
      } finally {
        active -= 1;
      }
    },
    refused: () => refused,
    active: () => active,
  };
}
