// npm run bench: every benchmark, printing numbers, ratios and whether each
// target is met. Timing is measured here, never asserted in tests.
import { runAgentFootprint } from './agent-footprint.ts';
import { runAlertingBench } from './alerting.ts';
import { runDashboardBench } from './dashboard.ts';
import { runHostileMqttBench } from './hostile-mqtt.ts';
import { runManagerLoad } from './manager-load.ts';
import { runQos2HoldBench } from './mqtt-qos2-hold.ts';
import { runPgRestartBench } from './pg-restart.ts';
import { runPxeBench } from './pxe.ts';
import { runReimagingBench } from './reimaging.ts';

console.log('== agent footprint (issue: under 60 MiB RSS, under 0.5 % of a core) ==');
await runAgentFootprint();
console.log('\n== manager load (issue: 5,000 registered within 30 s; 10,000 msg/s with lag under 1 s) ==');
await runManagerLoad();
console.log('\n== reimaging (issue: time from an injected failure to the replacement active; fan a reimage out to 1,000 nodes and get every ack) ==');
await runReimagingBench();
console.log('\n== alerting (issue: an XID line in a node\'s kernel log → the alert at a webhook, under 5 s) ==');
await runAlertingBench();
console.log('\n== dashboard (issue: the overview of a 10,000-node fleet renders in under 1 s) ==');
await runDashboardBench();
console.log('\n== hostile MQTT clients (issue: the manager\'s RSS under 50 unauthenticated CONNECTs announcing 250 MB each grows by no more than 10 MB) ==');
await runHostileMqttBench();
await runQos2HoldBench();
console.log('\n== PostgreSQL restart (issue: the manager rides out a store outage; time until it is ready and writing again) ==');
await runPgRestartBench();
console.log('\n== PXE in a VM (issue: power-on → registered, and the whole reimage cycle; initramfs under 45 MB) ==');
await runPxeBench();
process.exit(0);
