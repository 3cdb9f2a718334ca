// The network boot endpoint on a plain-HTTP listener of its own. iPXE firmware
// cannot be given the manager's private CA, so /boot/ipxe and /images/ stay
// reachable over HTTP; the API and the dashboard are not served here (they
// are HTTPS on the HTTP port), so no API token ever crosses this listener.
// What is served here is public or single-use: boot scripts (with a one-use
// bootstrap token, as before), kernels and images (checked by sha256).
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import { installErrorHandling } from './errors.ts';
import { bootRoutes, type BootRouteDeps } from './boot-routes.ts';

/** `started`: requests wait for it (the manager listens here before the rest has started, to know its own URL). */
export async function buildBootApp(deps: BootRouteDeps & { logger: Logger; started?: Promise<void> }): Promise<FastifyInstance> {
  const { logger, started, ...boot } = deps;
  const loggerInstance: FastifyBaseLogger = logger.child({ component: 'boot' });
  const app = Fastify({ loggerInstance, bodyLimit: 1024, ajv: { customOptions: { removeAdditional: false } } }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app);
  if (started) {
    app.addHook('onRequest', async () => {
      await started;
    });
  }
  await app.register(bootRoutes, boot);
  return app;
}
