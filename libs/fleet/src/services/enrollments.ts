// Machines enrolled by their BMC before they ever booted: the operator gives
// the BMC and the MAC the machine network-boots from; the manager sets the
// next boot to PXE and powers it on. When the agent in the discovery image
// registers with that MAC, the node gets the BMC, so reimages and remediation
// can power-cycle it from then on.
import { DomainError } from '@metalfleet/domain';
import type { BmcConfig, EnrollmentRecord, FleetStore } from '@metalfleet/store';
import type { FleetEvents } from '../events/fleet-events.ts';

/** What enrollment needs of a BMC driver (libs/power). */
export interface EnrollmentPower {
  powerState(): Promise<'on' | 'off'>;
  powerOn(): Promise<void>;
  powerCycle(): Promise<void>;
  setNextBootPxe(): Promise<void>;
}

export interface EnrollmentDeps {
  store: FleetStore;
  events: FleetEvents;
  power: (bmc: BmcConfig) => EnrollmentPower;
  now: () => Date;
  onError: (error: unknown, context: Record<string, unknown>) => void;
  /** A discovered node waiting for admission is admitted when it claims an enrollment (policy bmc-enrollment). */
  admitOnClaim?: boolean;
}

export interface EnrollInput {
  mac: string;
  bmc: BmcConfig;
  /** Set the next boot to PXE and power on (a machine already on is power-cycled). */
  powerOn: boolean;
}

export function createEnrollments(deps: EnrollmentDeps) {
  async function claim(nodeId: string): Promise<void> {
    const node = await deps.store.getNodeSummary(nodeId);
    if (!node) return;
    const enrollment = await deps.store.claimEnrollment(node.identity.macs, nodeId, deps.now());
    if (!enrollment) return;
    // A BMC the operator set on the node by hand wins over the enrollment.
    if (!(await deps.store.getBmc(nodeId))) await deps.store.setBmc(nodeId, enrollment.bmc);
    // The operator named this MAC and BMC before the machine booted: that vouches for it as much as accepting it by hand.
    if (deps.admitOnClaim && (await deps.store.getAdmission(nodeId))?.state === 'pending') {
      await deps.store.setAdmission({ nodeId, state: 'admitted', via: 'bmc-enrollment', actor: `enrollment of ${enrollment.mac} (BMC ${enrollment.bmc.address})`, at: deps.now() });
    }
    deps.events.emit({ type: 'enrollment-claimed', nodeId, mac: enrollment.mac, bmcAddress: enrollment.bmc.address, at: deps.now() });
  }

  return {
    async enroll(input: EnrollInput): Promise<{ enrollment: EnrollmentRecord; power: 'on' | 'off' | 'unchanged' }> {
      const mac = input.mac.toLowerCase().replace(/-/g, ':');
      const [known] = await deps.store.findIdentityCandidates({ systemUuid: '', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [mac], bmcAddress: '' });
      if (known) throw new DomainError('conflict', `MAC ${mac} belongs to node ${known.nodeId} already; set its BMC with PUT /api/v1/nodes/${known.nodeId}/bmc`);
      const enrollment: EnrollmentRecord = { mac, bmc: input.bmc, createdAt: deps.now(), nodeId: null, claimedAt: null };
      if (!input.powerOn) {
        await deps.store.putEnrollment(enrollment);
        return { enrollment, power: 'unchanged' };
      }
      // The BMC answers before anything is stored: a wrong address or password is the operator's error now, not a silent one later.
      const power = deps.power(input.bmc);
      const before = await power.powerState();
      await deps.store.putEnrollment(enrollment);
      await power.setNextBootPxe();
      await (before === 'on' ? power.powerCycle() : power.powerOn());
      return { enrollment, power: 'on' };
    },
    list: () => deps.store.listEnrollments(),
    /** Gives newly registered nodes the BMC they were enrolled with. */
    listen(): () => void {
      return deps.events.on((event) => {
        if (event.type === 'node-registered') void claim(event.nodeId).catch((error: unknown) => deps.onError(error, { nodeId: event.nodeId, step: 'claim enrollment' }));
      });
    },
  };
}

export type Enrollments = ReturnType<typeof createEnrollments>;
