// npm run bench (part): the real manager under a fleet of simulated agents.
//  1. Registration storm: 5,000 simulated nodes power on at once (4 agent
//     processes); time until all are registered. Target: within 30 s.
//  2. Telemetry: once all 5,000 nodes are connected to the broker, they report every 0.48 s (10,417 msg/s offered);
//     messages ingested per second and ingest lag. Target: 10,000 msg/s, lag < 1 s.
// Beside each, the same broker load through Mosquitto in the same run: 5,000
// clients connecting at once, then publishing the same payloads at the same
// rate to a subscriber; once over TLS with a certificate from a CA like the
// manager's (a private Mosquitto, as the nodes' MQTT is TLS), once plain
// (the machine's Mosquitto on 127.0.0.1:1883).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBinary } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import mqtt from 'mqtt';
import { TelemetrySchema } from '@metalfleet/proto';
import { ensureCertificateAuthority, issueServerCertificate } from '@metalfleet/manager-transport';
import { startMosquittoTls } from '../support/mosquitto.ts';
import { ManagerProcess, measuredWithoutAcceptance } from '../support/manager.ts';
import { agentBin, start, type Proc } from '../support/processes.ts';

const nodes = Number(process.env['BENCH_NODES'] ?? 5000);
const processes = 4;
// A little above 2 messages a node a second, so that ingesting all of them clears 10,000 msg/s.
const intervalS = 0.48;
const measureS = Number(process.env['BENCH_INGEST_SECONDS'] ?? 30);
const publishersBin = fileURLToPath(new URL('./mqtt-publishers.ts', import.meta.url));

async function metric(manager: ManagerProcess, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${manager.http}/metrics`, { headers: manager.auth() })).text();
  const line = text.split('\n').find((l) => pattern.test(l));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function until(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Registered and connected counts every 10 s while the storm lasts. */
function reportStorm(manager: ManagerProcess, t0: number): () => void {
  const timer = setInterval(() => {
    void Promise.all([metric(manager, /^metalfleet_registrations_total\{result="new"\}/), metric(manager, /^metalfleet_mqtt_clients /)])
      .then(([registered, connected]) => console.log(`  ${((Date.now() - t0) / 1000).toFixed(0).padStart(3)} s: ${registered} registered, ${connected} on MQTT`), () => undefined);
  }, 10_000);
  return () => clearInterval(timer);
}

async function benchManager(dir: string) {
  // Every simulated node connects from 127.0.0.1: no per-address limit for this fleet.
  const manager = new ManagerProcess(join(dir, 'manager'), [...measuredWithoutAcceptance, '--telemetry-interval-s', String(intervalS), '--health-interval-s', '600', '--heartbeat-grace-s', '120',
    '--mqtt-max-connections-per-address', '0']);
  const agents: Proc[] = [];
  try {
    await manager.start();
    const perProcess = Math.ceil(nodes / processes);
    const t0 = Date.now();
    const stopReporting = reportStorm(manager, t0);
    for (let p = 0; p < processes; p += 1) {
      agents.push(start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', String(Math.min(perProcess, nodes - p * perProcess)),
        '--simulate-seed', `bench-${p}`, '--state-dir', join(dir, `agents-${p}`), '--log-level', 'error', '--retry-initial-ms', '500', '--retry-max-ms', '5000',
        '--kernel-cmdline', '/nonexistent', '--health-interval-s', '600', '--digest-interval-s', '3600']));
    }
    const registered = () => metric(manager, /^metalfleet_registrations_total\{result="new"\}/);
    const allIn = await until(async () => (await registered()) >= nodes, 180_000);
    const registrationS = (Date.now() - t0) / 1000;
    const count = await registered();
    // Registered is not yet reporting: each node then connects to the broker over TLS.
    const allConnected = await until(async () => (await metric(manager, /^metalfleet_mqtt_clients /)) >= nodes, 180_000);
    const connectedS = (Date.now() - t0) / 1000;
    const connected = await metric(manager, /^metalfleet_mqtt_clients /);
    stopReporting();

    // Every node reporting at its own phase, and the connect storm out of the lag figures (a 60 s window).
    await new Promise((r) => setTimeout(r, 30_000));
    const ingested = () => metric(manager, /^metalfleet_messages_ingested_total\{kind="telemetry"\}/);
    const before = await ingested();
    const m0 = Date.now();
    await new Promise((r) => setTimeout(r, measureS * 1000));
    const rate = ((await ingested()) - before) / ((Date.now() - m0) / 1000);
    const p50 = await metric(manager, /^metalfleet_telemetry_ingest_lag_seconds\{quantile="0.5"\}/);
    const p99 = await metric(manager, /^metalfleet_telemetry_ingest_lag_seconds\{quantile="0.99"\}/);
    // The same manager, its nodes' load now coming from thin publishers with the nodes' own
    // credentials: the manager's ingest capacity without the simulated agents' CPU.
    for (const a of agents) await a.stop('SIGKILL');
    agents.length = 0;
    const thin = await thinPublishers(manager, dir);
    return { allIn, registrationS, count, allConnected, connectedS, connected, rate, p50, p99, thin };
  } finally {
    for (const a of agents) await a.stop('SIGKILL');
    await manager.stop();
  }
}

async function thinPublishers(manager: ManagerProcess, dir: string) {
  const credentials: Array<{ nodeId: string; credential: string }> = [];
  for (let p = 0; p < processes; p += 1) {
    const base = join(dir, `agents-${p}`);
    for (const sim of existsSync(base) ? readdirSync(base).filter((d) => d.startsWith('sim-')) : []) {
      const file = join(base, sim, 'credential.json');
      // A node killed while registering again has none: it is left out.
      if (existsSync(file)) credentials.push(JSON.parse(readFileSync(file, 'utf8')) as { nodeId: string; credential: string });
    }
  }
  const ready = JSON.parse(manager.proc?.lines.find((l) => l.includes('"manager ready"')) ?? '{}') as { mqtt?: string };
  const url = String(ready.mqtt);
  const perProcess = Math.ceil(credentials.length / processes);
  const ingested = () => metric(manager, /^metalfleet_messages_ingested_total\{kind="telemetry"\}/);
  const publishers = Array.from({ length: processes }, (_, p) => {
    const file = join(dir, `credentials-${p}.json`);
    writeFileSync(file, JSON.stringify(credentials.slice(p * perProcess, (p + 1) * perProcess)));
    return start(publishersBin, [url, 'thin', '0', String(intervalS * 1000), String(measureS + 20), file, join(manager.dataDir, 'pki', 'ca.crt')]);
  });
  await until(async () => publishers.every((p) => p.lines.some((l) => l.includes('"connected"'))), 120_000);
  await new Promise((r) => setTimeout(r, 10_000));
  const before = await ingested();
  const m0 = Date.now();
  await new Promise((r) => setTimeout(r, measureS * 1000));
  const rate = ((await ingested()) - before) / ((Date.now() - m0) / 1000);
  const p99 = await metric(manager, /^metalfleet_telemetry_ingest_lag_seconds\{quantile="0.99"\}/);
  for (const p of publishers) await p.stop('SIGKILL');
  return { rate, p99, nodes: credentials.length };
}

/** The same clients and load through Mosquitto at `url`; with `caFile`, over TLS verified against that CA. */
async function benchMosquitto(url: string, caFile = '') {
  let received = 0;
  const lags: number[] = [];
  const subscriber = await mqtt.connectAsync(url, { clientId: `bench-sub-${process.pid}`, ...(caFile ? { ca: readFileSync(caFile) } : {}) });
  await subscriber.subscribeAsync('mf/v1/nodes/+/telemetry', { qos: 0 });
  subscriber.on('message', (_topic, payload) => {
    received += 1;
    if (received % 10 === 0) {
      const at = fromBinary(TelemetrySchema, payload).at;
      if (at) lags.push(Date.now() - timestampMs(at));
    }
  });
  const perProcess = Math.ceil(nodes / processes);
  const t0 = Date.now();
  const publishers = Array.from({ length: processes }, (_, p) =>
    start(publishersBin, [url, `bench-${process.pid}-${p}`, String(Math.min(perProcess, nodes - p * perProcess)), String(intervalS * 1000), String(measureS + 20), '', caFile]));
  await until(async () => publishers.every((p) => p.lines.some((l) => l.includes('"connected"'))), 180_000);
  const connectS = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 10_000));
  const before = received;
  lags.length = 0;
  const m0 = Date.now();
  await new Promise((r) => setTimeout(r, measureS * 1000));
  const rate = (received - before) / ((Date.now() - m0) / 1000);
  lags.sort((a, b) => a - b);
  const q = (f: number) => (lags[Math.floor(f * (lags.length - 1))] ?? 0) / 1000;
  for (const p of publishers) await p.stop('SIGKILL');
  await subscriber.endAsync();
  return { connectS, rate, p50: q(0.5), p99: q(0.99) };
}

/** A CA and server certificate made the way the manager makes its own, served by a private Mosquitto. */
async function benchMosquittoTls(dir: string) {
  const ca = await ensureCertificateAuthority(join(dir, 'mosquitto-pki'), 'bench CA');
  const caFile = join(dir, 'mosquitto-pki', 'ca.crt');
  const broker = await startMosquittoTls(await issueServerCertificate(ca, ['127.0.0.1']));
  try {
    return await benchMosquitto(broker.url, caFile);
  } finally {
    await broker.stop();
  }
}

export async function runManagerLoad(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-load-'));
  try {
    console.log(`\nmanager under ${nodes} simulated nodes (${processes} agent processes), telemetry every ${intervalS} s…`);
    const m = await benchManager(dir);
    console.log('the same broker load through a private Mosquitto over TLS…');
    const tls = await benchMosquittoTls(dir);
    console.log('the same broker load through Mosquitto 127.0.0.1:1883, plain MQTT…');
    const plain = await benchMosquitto('mqtt://127.0.0.1:1883');
    const row = (label: string, ours: string, overTls: string, overPlain: string, note = '') =>
      console.log(`${label.padEnd(34)} ${ours.padStart(12)} ${overTls.padStart(14)} ${overPlain.padStart(16)}${note ? `   ${note}` : ''}`);
    console.log('');
    row('', 'metalfleet', 'mosquitto TLS', 'mosquitto plain');
    row('storm: all nodes registered (s)', m.registrationS.toFixed(1), '', '', '(gRPC Register over TLS, inventory included)');
    row('storm: all nodes on MQTT (s)', m.connectedS.toFixed(1), tls.connectS.toFixed(1), plain.connectS.toFixed(1),
      '(metalfleet: registration, then MQTT over TLS with the node credential; mosquitto: MQTT connect only)');
    row('storm: registrations / s', (m.count / m.registrationS).toFixed(0), (nodes / tls.connectS).toFixed(0), (nodes / plain.connectS).toFixed(0));
    row('telemetry ingested (msg/s)', m.rate.toFixed(0), tls.rate.toFixed(0), plain.rate.toFixed(0),
      `ratio ${(m.rate / tls.rate).toFixed(2)} to mosquitto TLS; offered ${(nodes / intervalS).toFixed(0)}`);
    const lag = (r: { p50: number; p99: number }) => `${r.p50.toFixed(3)}/${r.p99.toFixed(3)}`;
    row('ingest lag p50 / p99 (s)', lag(m), lag(tls), lag(plain));
    row('same, thin publishers (msg/s)', m.thin.rate.toFixed(0), tls.rate.toFixed(0), plain.rate.toFixed(0),
      `(${m.thin.nodes} nodes' own credentials over TLS, no agent logic; lag p99 ${m.thin.p99.toFixed(3)} s)`);
    if (!m.allConnected) console.log(`only ${m.connected} of ${nodes} nodes connected to MQTT within 180 s: the telemetry figures above are for those`);
    console.log(`targets: all ${nodes} registered within 30 s ${m.allIn && m.registrationS <= 30 ? 'met' : 'MISSED'} (${m.count} in ${m.registrationS.toFixed(1)} s); ` +
      `10,000 msg/s ${m.rate >= 10_000 ? 'met' : 'MISSED'} (${m.rate.toFixed(0)}); lag < 1 s ${m.p99 < 1 ? 'met' : 'MISSED'} (p99 ${m.p99.toFixed(3)} s)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runManagerLoad();
