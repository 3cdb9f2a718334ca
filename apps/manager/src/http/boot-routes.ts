// The network boot endpoint: iPXE asks for its script by MAC. A node being
// reimaged gets its install image, with the manager's address, a single-use
// install token bound to that node and command, and the command's id on the
// kernel command line; an unknown machine gets the discovery image (when one
// is configured) with a single-use discovery token bound to its MAC; any other
// machine boots from its disk. A node with a BMC gets its install script only
// after the manager power-cycled it for that reimage. The install token goes to
// the first fetch after the reboot point only (install-token-grant.ts): a
// second fetch is answered 409 with a local-boot script and reported
// (install-refused), and the token is good only from the address it went to. Tokens are capped (boot-tokens.ts): past a cap
// the answer is HTTP 429 with Retry-After and a local-boot script. Artifacts under
// /images/ are served with range requests, a Repr-Digest (sha256) header and
// that digest as a strong ETag; If-Range is decided with it, so an install that
// resumes a download gets the rest of the same file or the whole new one. The
// digests are computed in the background (file-digests.ts): until a file's is
// known it is served whole, promptly, without those two headers.
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fastifyStatic from '@fastify/static';
import { Type } from 'typebox';
import {
  bootCmdline, imageLabel, installWindowMs, ipxeChainWithMac, ipxeLocalBoot, ipxeRetry, ipxeScript, parseMac, resolveImageUrls, type Image, type ImageRef,
} from '@metalfleet/domain';
import type { BootTokenGrant, BootTokens, FleetEvents } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import { createFileDigests, strongEtag, type FileDigests, type ServedFile } from './file-digests.ts';
import { open } from './access.ts';

export interface BootRouteDeps {
  store: FleetStore;
  bootTokens: BootTokens;
  /** Seconds a refused machine is told to wait (Retry-After): the discovery token lifetime. */
  retryAfterS: number;
  events: FleetEvents;
  now: () => Date;
  /** gRPC address (host:port) nodes register at. */
  managerAddress: () => string;
  /** The manager's HTTP URL as nodes reach it: completes catalog paths such as /images/…. */
  publicUrl: () => string;
  /** name@version for machines with no work; empty: local boot. */
  /** The image for machines the manager does not know; null: they boot from their disk. */
  discoveryImage: ImageRef | null;
  /** Served at /images/; null: not served. */
  imageDir: string | null;
  /** The digests of the files under imageDir, hashed in the background (the manager's, kept across restarts); absent: hashed here, kept in memory. */
  imageDigests?: FileDigests;
  /** The reimage's install phase timeout: the window of an installer whose node's reboot ack has not arrived yet. */
  installTimeoutMs: number;
}

const BootQuery = Type.Object({
  mac: Type.Optional(Type.String({ pattern: '^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$', description: 'The booting NIC\'s MAC (iPXE: ${netX/mac}); without it the answer asks again with it.' })),
});

export const bootRoutes: FastifyPluginAsyncTypebox<BootRouteDeps> = async (app, deps) => {
  /** `windowMs`: how long the installer retries an interrupted download (installWindowMs); none: its default. */
  function scriptFor(image: Image, token: string, commandId?: string, windowMs?: number | null): string {
    const resolved = resolveImageUrls(image, deps.publicUrl());
    const installWindowS = windowMs === undefined || windowMs === null ? undefined : Math.floor(windowMs / 1000);
    return ipxeScript(resolved, bootCmdline(resolved, {
      manager: deps.managerAddress(), token, ...(commandId ? { commandId } : {}), ...(installWindowS !== undefined ? { installWindowS } : {}),
    }));
  }

  function refused(reply: FastifyReply, grant: Extract<BootTokenGrant, { ok: false }>, mac: string): string {
    reply.log.warn({ mac, reason: grant.reason }, 'boot: token refused');
    void reply.status(429).header('retry-after', String(deps.retryAfterS));
    return ipxeLocalBoot(`no token: ${grant.reason}`);
  }

  app.get('/boot/ipxe', {
    schema: { ...open, summary: 'iPXE script for the machine with this MAC', querystring: BootQuery, produces: ['text/plain'], response: { 200: Type.String(), 409: Type.String({ description: 'The install script of this reimage was handed out already: a local-boot script.' }) } },
  }, async (request, reply) => {
    void reply.type('text/plain; charset=utf-8');
    if (request.query.mac === undefined) return ipxeChainWithMac(`${deps.publicUrl()}/boot/ipxe`);
    // The schema admits colon and dash spellings only; parseMac is the one normalisation the registrar uses too.
    const mac = parseMac(request.query.mac) ?? request.query.mac;
    const [candidate] = await deps.store.findIdentityCandidates({ systemUuid: '', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [mac], bmcAddress: '' });
    if (candidate) {
      const work = (await deps.store.openOperationNodes()).find((n) => n.nodeId === candidate.nodeId && n.commandId !== null
        && (n.progress.phase === 'rebooting' || n.progress.phase === 'installing'));
      if (work) {
        const image = await deps.store.getImage(work.operation.image);
        if (!image) return ipxeLocalBoot(`image ${imageLabel(work.operation.image)} is gone from the catalog`);
        // A node with a BMC gets its install token only after the manager's own power cycle, which ends the
        // tenant's OS: a fetch made from that OS before it gets nothing to register with. The firmware asks again.
        if (work.progress.evidence.powerCycledAt === null && (await deps.store.getBmc(candidate.nodeId)) !== null) {
          request.log.info({ nodeId: candidate.nodeId, mac, peer: request.ip }, 'boot: install script held back until the power cycle');
          return ipxeRetry('the reimage waits for the manager\'s power cycle', `${deps.publicUrl()}/boot/ipxe`, 10);
        }
        const commandId = work.commandId ?? '';
        // One token per reboot point, to the first fetch after it: a later one gets nothing (it never takes the token
        // from the fetch before it) and is reported; the firmware that lost it boots from its disk.
        const grant = await deps.bootTokens.install(candidate.nodeId, commandId, request.ip, work.progress.evidence.powerCycledAt);
        if (!grant.ok) {
          deps.events.emit({ type: 'install-refused', nodeId: candidate.nodeId, commandId, step: 'boot-script', peer: request.ip, reason: `a second request for the install script: ${grant.reason}`, at: deps.now() });
          void reply.status(409);
          return ipxeLocalBoot('this reimage\'s install script was handed out already; an operator must look at it');
        }
        request.log.info({ nodeId: candidate.nodeId, mac, image: imageLabel(image) }, 'boot: install image for a reimage');
        deps.events.emit({ type: 'boot-script-served', nodeId: candidate.nodeId, mac, commandId: work.commandId, purpose: 'install', peer: request.ip, at: deps.now() });
        return scriptFor(image, grant.token, work.commandId ?? undefined, installWindowMs(work.progress, deps.now(), deps.installTimeoutMs));
      }
      deps.events.emit({ type: 'boot-script-served', nodeId: candidate.nodeId, mac, commandId: null, purpose: 'local', peer: request.ip, at: deps.now() });
      return ipxeLocalBoot('no work for this machine');
    }
    const image = deps.discoveryImage ? await deps.store.getImage(deps.discoveryImage) : null;
    if (!image) return ipxeLocalBoot(`unknown machine ${mac} and no discovery image configured`);
    const grant = await deps.bootTokens.discovery(mac);
    if (!grant.ok) return refused(reply, grant, mac);
    request.log.info({ mac, image: imageLabel(image) }, 'boot: discovery image for an unknown machine');
    deps.events.emit({ type: 'boot-script-served', nodeId: null, mac, commandId: null, purpose: 'discovery', peer: request.ip, at: deps.now() });
    return scriptFor(image, grant.token);
  });

  if (deps.imageDir) {
    // The manager passes digests it hashes from start and keeps in its data directory; otherwise they are kept here, in memory.
    const digests = deps.imageDigests ?? createFileDigests({ root: deps.imageDir, ledgerFile: null });
    if (!deps.imageDigests) {
      void digests.start();
      app.addHook('onClose', async () => digests.close());
    }
    // A request never waits for a file to be hashed: without its digest the file is served without the strong ETag.
    app.addHook('onRequest', async (request) => {
      if (!request.url.startsWith('/images/')) return;
      const file = await digests.lookup(request.url.slice('/images/'.length));
      // If-Range (RFC 9110 13.1.5) is decided here, with the strong ETag: the static file sender knows only a weak one.
      // A validator that does not match, or a file whose digest is not known yet, drops the range: the answer is the whole file (200).
      const headers = request.raw.headers;
      const ifRange = headers['if-range'];
      if (ifRange === undefined) return;
      if (!file || typeof ifRange !== 'string' || !stillValid(ifRange, file)) delete headers.range;
      delete headers['if-range'];
    });
    // RFC 9530: the sha256 of the whole file, on full and ranged answers alike, so a client can check what it assembled.
    // Both are set only when the digest is of the very file being sent (its identity as the sender found it).
    await app.register(fastifyStatic, {
      root: deps.imageDir, prefix: '/images/', decorateReply: false, etag: false,
      setHeaders: (reply, path, stat) => {
        const digest = digests.cached(path, stat);
        if (digest) void reply.header('repr-digest', `sha-256=:${digest}:`).header('etag', strongEtag(digest));
      },
    });
  }
};

/** Whether an If-Range value names this version of the file: its strong ETag, or exactly its Last-Modified second. */
function stillValid(ifRange: string, file: ServedFile): boolean {
  // Not hashed yet: no validator is known to be strong, so no range is spliced onto what the client has.
  if (file.digest === null) return false;
  if (ifRange.includes('"')) return ifRange === strongEtag(file.digest);
  const at = Date.parse(ifRange);
  return Number.isFinite(at) && at === Math.floor(file.mtimeMs / 1000) * 1000;
}
