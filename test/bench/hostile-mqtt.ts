// npm run bench (part), or alone: node test/bench/hostile-mqtt.ts
// The real manager (MQTT over TLS, as shipped) under 50 unauthenticated
// connections that each send a CONNECT announcing 250 MB and then push its
// body as fast as the manager takes it. Printed: the manager's RSS before
// (baseline), its peak while the connections last and after, how much of the
// announced body each connection got in before it was cut, and how long that
// took. Target: RSS grows by no more than 10 MB.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:tls';
import { mqttFixedHeader } from '@metalfleet/manager-transport';
import { ManagerProcess, measuredWithoutAcceptance } from '../support/manager.ts';
import { rssMiB } from './proc-stats.ts';

const connections = 50;
const announcedBytes = 250 * 1024 * 1024;
const targetGrowthMiB = 10;

/** One hostile client: CONNECT header announcing 250 MB, then the body until the manager closes the connection (or all of it is sent). */
function hostile(host: string, port: number): Promise<{ sent: number; cut: boolean; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    let sent = 0;
    let closed = false;
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    const socket = connect({ host, port, rejectUnauthorized: false }, () => {
      socket.write(mqttFixedHeader(0x10, announcedBytes));
      pump();
    });
    const pump = () => {
      while (!closed && sent < announcedBytes) {
        sent += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
    };
    socket.on('error', () => undefined);
    socket.once('close', () => {
      closed = true;
      resolve({ sent, cut: sent < announcedBytes, ms: performance.now() - started });
    });
  });
}

export async function runHostileMqttBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-bench-hostile-'));
  const manager = new ManagerProcess(join(dir, 'manager'), [...measuredWithoutAcceptance]);
  try {
    await manager.start();
    const pid = manager.proc?.child.pid ?? 0;
    const { hostname, port } = new URL(manager.mqtt.replace(/^mqtts?:/, 'http:'));
    // Baseline: the idle manager, once its start-up garbage has settled.
    await new Promise((r) => setTimeout(r, 3000));
    const baseline = rssMiB(pid);
    let peak = baseline;
    const sampler = setInterval(() => void (peak = Math.max(peak, rssMiB(pid))), 50);
    const results = await Promise.all(Array.from({ length: connections }, () => hostile(hostname, Number(port))));
    clearInterval(sampler);
    peak = Math.max(peak, rssMiB(pid));
    await new Promise((r) => setTimeout(r, 1000));
    const after = rssMiB(pid);

    const sentMiB = results.map((r) => r.sent / 1024 / 1024).sort((a, b) => a - b);
    const ms = results.map((r) => r.ms).sort((a, b) => a - b);
    const cut = results.filter((r) => r.cut).length;
    console.log(`${connections} TLS connections, each a CONNECT announcing ${announcedBytes / 1024 / 1024} MB and pushing its body:`);
    console.log(`  cut by the manager: ${cut}/${connections}; body written before the cut (mostly kernel socket buffers): median ${sentMiB[connections >> 1]?.toFixed(2)} MiB, max ${sentMiB.at(-1)?.toFixed(2)} MiB; after ${ms[connections >> 1]?.toFixed(0)} ms median, ${ms.at(-1)?.toFixed(0)} ms max`);
    console.log(`  manager RSS: baseline ${baseline.toFixed(1)} MiB, peak during the attack ${peak.toFixed(1)} MiB (+${(peak - baseline).toFixed(1)}), 1 s after ${after.toFixed(1)} MiB`);
    console.log(`  target: growth under ${targetGrowthMiB} MB ${peak - baseline < targetGrowthMiB ? 'met' : 'MISSED'}`);
  } finally {
    await manager.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runHostileMqttBench();
  process.exit(0);
}
