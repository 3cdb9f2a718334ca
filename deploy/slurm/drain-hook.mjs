#!/usr/bin/env node
// metalfleet drain hook for SLURM: run it on a host with scontrol rights and
// start the manager with --drain-hook-url http://<this host>:7480/drain.
// The manager POSTs {nodeId, hostname, tenant, rack, reason} before it takes a
// node down; this drains the node in SLURM and answers 200 once no job runs on
// it (or 504 after DRAIN_TIMEOUT_S, and the manager fails that step).
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { promisify } from 'node:util';

const run = promisify(execFile);
const port = Number(process.env.PORT ?? 7480);
const timeoutS = Number(process.env.DRAIN_TIMEOUT_S ?? 600);

async function drained(host) {
  // "DRAINED" once the last job ended; "DRAINING" while jobs still run.
  const { stdout } = await run('sinfo', ['-h', '-N', '-n', host, '-o', '%T']);
  return !/draining|mixed|allocated/i.test(stdout);
}

createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/drain') return res.writeHead(404).end();
  let body = '';
  for await (const chunk of req) body += chunk;
  try {
    const { hostname, reason } = JSON.parse(body);
    if (!/^[A-Za-z0-9._-]+$/.test(hostname ?? '')) return res.writeHead(400).end('bad hostname');
    await run('scontrol', ['update', `nodename=${hostname}`, 'state=drain', `reason=metalfleet: ${String(reason).slice(0, 200)}`]);
    for (const started = Date.now(); !(await drained(hostname));) {
      if (Date.now() - started > timeoutS * 1000) return res.writeHead(504).end(`jobs still running on ${hostname}`);
      await new Promise((r) => setTimeout(r, 5000));
    }
    res.writeHead(200).end('drained');
  } catch (error) {
    res.writeHead(500).end(String(error?.message ?? error));
  }
}).listen(port, () => console.log(`metalfleet SLURM drain hook on :${port}/drain`));
