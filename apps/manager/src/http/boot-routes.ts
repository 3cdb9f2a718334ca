// The network boot endpoint: iPXE asks for its script by MAC. A node being
// reimaged gets its image, with the manager's address, a fresh single-node
// bootstrap token and the reimage command's id on the kernel command line;
// an unknown machine gets the discovery image (when one is configured); any
// other machine boots from its disk.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fastifyStatic from '@fastify/static';
import { Type } from 'typebox';
import { bootCmdline, imageLabel, ipxeLocalBoot, ipxeScript, parseImageRef, type Image } from '@metalfleet/domain';
import type { BootstrapTokens } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';

export interface BootRouteDeps {
  store: FleetStore;
  tokens: BootstrapTokens;
  /** gRPC address (host:port) nodes register at. */
  managerAddress: () => string;
  /** name@version for machines with no work; empty: local boot. */
  discoveryImage: string;
  /** Served at /images/; null: not served. */
  imageDir: string | null;
}

const BootQuery = Type.Object({ mac: Type.String({ pattern: '^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$', description: 'The booting NIC\'s MAC (iPXE: ${net0/mac}).' }) });
// A token lives long enough to boot and register (slow firmware, retries), and serves one machine.
const tokenTtlSeconds = 3600;
const tokenUses = 3;

export const bootRoutes: FastifyPluginAsyncTypebox<BootRouteDeps> = async (app, deps) => {
  async function scriptFor(image: Image, description: string, commandId?: string): Promise<string> {
    const { token } = await deps.tokens.create({ description, ttlSeconds: tokenTtlSeconds, maxUses: tokenUses });
    return ipxeScript(image, bootCmdline(image, { manager: deps.managerAddress(), token, ...(commandId ? { commandId } : {}) }));
  }

  app.get('/boot/ipxe', {
    schema: { summary: 'iPXE script for the machine with this MAC', querystring: BootQuery, produces: ['text/plain'], response: { 200: Type.String() } },
  }, async (request, reply) => {
    void reply.type('text/plain; charset=utf-8');
    const mac = request.query.mac.toLowerCase().replace(/-/g, ':');
    const [candidate] = await deps.store.findIdentityCandidates({ systemUuid: '', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [mac], bmcAddress: '' });
    if (candidate) {
      const work = (await deps.store.openOperationNodes()).find((n) => n.nodeId === candidate.nodeId && n.commandId !== null
        && (n.progress.phase === 'rebooting' || n.progress.phase === 'installing'));
      if (work) {
        const image = await deps.store.getImage(work.operation.image);
        if (!image) return ipxeLocalBoot(`image ${imageLabel(work.operation.image)} is gone from the catalog`);
        return scriptFor(image, `reimage boot of ${candidate.nodeId}`, work.commandId ?? undefined);
      }
      return ipxeLocalBoot(`node ${candidate.nodeId} has no reimage in progress`);
    }
    const discovery = parseImageRef(deps.discoveryImage);
    const image = discovery ? await deps.store.getImage(discovery) : null;
    if (!image) return ipxeLocalBoot(`unknown machine ${mac} and no discovery image configured`);
    return scriptFor(image, `discovery boot of ${mac}`);
  });

  if (deps.imageDir) await app.register(fastifyStatic, { root: deps.imageDir, prefix: '/images/', decorateReply: false });
};
