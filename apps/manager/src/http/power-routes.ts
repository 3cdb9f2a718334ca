// BMC settings per node, power control through them, and machines enrolled
// by their BMC before they first boot.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, BmcBody, BmcView, EnrollBody, EnrollmentList, EnrollResult, NodeIdParams, PowerAction, PowerStatus } from '@metalfleet/api';
import { DomainError } from '@metalfleet/domain';
import { parseBmcNetworks, type BmcNetworks, type Enrollments } from '@metalfleet/fleet';
import type { BmcDriver } from '@metalfleet/power';
import type { BmcConfig, EnrollmentRecord, FleetStore } from '@metalfleet/store';
import { needs, principalOf } from './access.ts';

export interface PowerRouteDeps {
  store: FleetStore;
  driverFor: (bmc: BmcConfig) => BmcDriver;
  enrollments: Enrollments;
  /** Where operators may point a BMC (admins anywhere); absent: admins only. */
  bmcNetworks?: BmcNetworks;
}

/** For the audit log: which BMC, never its password. */
const bmcAudit = (bmc: { driver: string; address: string; port: number; username: string }) => `bmc ${bmc.driver} ${bmc.address}:${bmc.port} user ${bmc.username}`;

/** A BMC as the API shows it: never the password. */
function bmcView(bmc: BmcConfig) {
  const { password: _password, https: _https, ...view } = bmc;
  return view;
}

const enrollmentView = (e: EnrollmentRecord) => ({
  mac: e.mac, bmc: bmcView(e.bmc), createdAt: e.createdAt.toISOString(), nodeId: e.nodeId, claimedAt: e.claimedAt?.toISOString() ?? null,
});

export const powerRoutes: FastifyPluginAsyncTypebox<PowerRouteDeps> = async (app, { store, driverFor, enrollments, bmcNetworks = parseBmcNetworks('') }) => {
  async function bmcOf(nodeId: string): Promise<BmcConfig> {
    if (!(await store.getNodeSummary(nodeId))) throw new DomainError('not-found', `no node ${nodeId}`);
    const bmc = await store.getBmc(nodeId);
    if (!bmc) throw new DomainError('not-found', `node ${nodeId} has no BMC configured; PUT /api/v1/nodes/${nodeId}/bmc first`);
    return bmc;
  }

  // Not for tenant-scoped tokens: the manager's power cycle through this BMC
  // is the evidence that a reimage really rebooted the node, so a BMC the
  // tenant chose (a decoy that answers "cycled") would let it fake a reimage.
  app.put('/api/v1/nodes/:id/bmc', {
    schema: {
      ...needs('nodes:write'), summary: 'Set how to reach the node\'s BMC (the password is never shown again; operators only inside --bmc-networks; not tenant-scoped tokens)',
      params: NodeIdParams, body: BmcBody, response: { 200: BmcView, 400: ApiError, 403: ApiError, 404: ApiError },
    },
  }, async (request) => {
    request.auditDetail = `node ${request.params.id} ${bmcAudit(request.body)}`;
    if (!(await store.getNodeSummary(request.params.id))) throw new DomainError('not-found', `no node ${request.params.id}`);
    bmcNetworks.check(principalOf(request), request.body.address);
    const bmc: BmcConfig = { ...request.body };
    await store.setBmc(request.params.id, bmc);
    return bmcView(bmc);
  });

  app.post('/api/v1/enrollments', {
    schema: { ...needs('nodes:write'),
      summary: 'Enroll a machine by its BMC and boot MAC: next boot PXE, power on; it gets the BMC when it registers',
      body: EnrollBody, response: { 201: EnrollResult, 400: ApiError, 403: ApiError, 409: ApiError, 503: ApiError },
    },
  }, async (request, reply) => {
    request.auditDetail = `enrollment ${request.body.mac} ${bmcAudit(request.body.bmc)}`;
    bmcNetworks.check(principalOf(request), request.body.bmc.address);
    const { enrollment, power } = await enrollments.enroll({ mac: request.body.mac, bmc: { ...request.body.bmc }, powerOn: request.body.powerOn });
    return reply.status(201).send({ ...enrollmentView(enrollment), power });
  });

  app.get('/api/v1/enrollments', {
    schema: { ...needs('fleet:read'), summary: 'Enrolled machines, and the node each became', response: { 200: EnrollmentList } },
  }, async () => ({ items: (await enrollments.list()).map(enrollmentView) }));

  app.get('/api/v1/nodes/:id/power', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'Power state, asked of the BMC', params: NodeIdParams, response: { 200: PowerStatus, 404: ApiError, 503: ApiError } },
  }, async (request) => ({ power: await driverFor(await bmcOf(request.params.id)).powerState() }));

  app.post('/api/v1/nodes/:id/power', {
    schema: { ...needs('nodes:write', { tenantScoped: true }), summary: 'Power on, off, cycle, or next boot from the network', params: NodeIdParams, body: PowerAction, response: { 200: PowerStatus, 404: ApiError, 503: ApiError } },
  }, async (request) => {
    const driver = driverFor(await bmcOf(request.params.id));
    const actions = { on: () => driver.powerOn(), off: () => driver.powerOff(), cycle: () => driver.powerCycle(), pxe: () => driver.setNextBootPxe() };
    await actions[request.body.action]();
    return { power: await driver.powerState() };
  });
};
