// npm run bench: every benchmark, printing numbers, ratios and whether each
// target is met. Timing is measured here, never asserted in tests.
// `npm run bench -- storm pg-restart` runs only the named ones (names below);
// the storm bench at full size (5,000 and 10,000 nodes, also on one core) runs
// only when named: the default run does a 1,000-node storm.
import { runAcceptanceBench } from './acceptance.ts';
import { runAgentFootprint } from './agent-footprint.ts';
import { runAlertingBench } from './alerting.ts';
import { runDashboardBench } from './dashboard.ts';
import { runHaBench } from './ha.ts';
import { runHostileMqttBench } from './hostile-mqtt.ts';
import { runManagerLoad } from './manager-load.ts';
import { runQos2HoldBench } from './mqtt-qos2-hold.ts';
import { runPgRestartBench } from './pg-restart.ts';
import { runPxeBench } from './pxe.ts';
import { runReimagingBench } from './reimaging.ts';
import { runStormBench } from './storm.ts';

const named = process.argv.slice(2);
const benches: Array<{ name: string; title: string; run: () => Promise<void> }> = [
  { name: 'agent-footprint', title: 'agent footprint (issue: under 60 MiB RSS, under 0.5 % of a core)', run: runAgentFootprint },
  { name: 'manager-load', title: 'manager load (issue: 5,000 registered within 30 s; 10,000 msg/s with lag under 1 s)', run: runManagerLoad },
  {
    name: 'storm', title: 'connect storms (issue 20: power-on and manager-restart storms converge: all registered, all on MQTT)',
    run: () => (named.includes('storm') ? runStormBench() : runStormBench([1000], false)),
  },
  { name: 'reimaging', title: 'reimaging (issue: time from an injected failure to the replacement active; fan a reimage out to 1,000 nodes and get every ack)', run: runReimagingBench },
  { name: 'alerting', title: 'alerting (issue: an XID line in a node\'s kernel log → the alert at a webhook, under 5 s)', run: runAlertingBench },
  { name: 'dashboard', title: 'dashboard (issue: the overview of a 10,000-node fleet renders in under 1 s)', run: runDashboardBench },
  {
    name: 'hostile-mqtt', title: 'hostile MQTT clients (issue: the manager\'s RSS under 50 unauthenticated CONNECTs announcing 250 MB each grows by no more than 10 MB)',
    run: async () => {
      await runHostileMqttBench();
      await runQos2HoldBench();
    },
  },
  {
    name: 'ha', title: 'high availability (issue 21: 3 replicas + a 3-node NATS cluster: registration storm, telemetry lag p99 < 1 s, ingest 3 vs 1 replicas, takeover after kill -9 p50/p95, 0 lost and 0 duplicated)',
    run: runHaBench,
  },
  { name: 'acceptance', title: 'acceptance testing (issue 22: 500 simulated nodes at once, time and manager CPU, beside acceptance off; one node from repaired to available)', run: runAcceptanceBench },
  { name: 'pg-restart', title: 'PostgreSQL restart (issue: the manager rides out a store outage; time until it is ready and writing again)', run: runPgRestartBench },
  { name: 'pxe', title: 'PXE in a VM (issue: power-on → registered, and the whole reimage cycle; initramfs under 45 MB)', run: runPxeBench },
];

const unknown = named.filter((n) => !benches.some((b) => b.name === n));
if (unknown.length > 0) {
  console.error(`unknown bench ${unknown.join(', ')}; known: ${benches.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
let first = true;
for (const bench of benches) {
  if (named.length > 0 && !named.includes(bench.name)) continue;
  console.log(`${first ? '' : '\n'}== ${bench.title} ==`);
  first = false;
  await bench.run();
}
process.exit(0);
