// Found by a hostile review (evening of 2026-11-27): the MQTT gate found a connection's turn from the TLS keylog
// by the peer's address:port alone. A client can hold two connections from one address and port (SO_REUSEADDR
// on both, each to another address of the manager: 127.0.0.1 and 127.0.0.2 here, two NICs in a rack). The
// second one's entry replaces the first's in `turns` (and in unauthenticatedSlots): the first's keylog then
// gives back the second's waiting turn (so the second is never begun, nor shed: it hangs, holding its
// unauthenticated slot), while the first keeps its own turn for as long as it stays open.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { createNodeBroker } from './mqtt-broker.ts';
import { ensureCertificateAuthority, issueServerCertificate } from './pki.ts';

const realConnections = { timeout: 60_000 };

// Two TCP connections from 127.0.0.1:<one port>, to 127.0.0.1 and 127.0.0.2; steps on stdin, progress on stdout.
const client = String.raw`
import socket, ssl, sys
port = int(sys.argv[1])
def dial(dst, local_port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', local_port)); s.connect((dst, port)); return s
a = dial('127.0.0.1', 0); local = a.getsockname()[1]
print('A', local, flush=True); sys.stdin.readline()
b = dial('127.0.0.2', local)
print('B', b.getsockname()[1], flush=True); sys.stdin.readline()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
sa = ctx.wrap_socket(a, server_hostname='127.0.0.1')
print('A secure', flush=True); sys.stdin.readline()
b.settimeout(15)
try:
    sb = ctx.wrap_socket(b, server_hostname='127.0.0.1'); print('B secure', flush=True)
except Exception as e:
    print('B failed', type(e).__name__, flush=True)
sys.stdin.readline()
`;

describe('MQTT turns keyed by the whole connection, not the peer address:port', realConnections, () => {
  it('two connections from one address and port each get their turn, and both turns end once their handshakes are done', async () => {
    const own = await createNodeBroker({ authenticateNode: async () => false, maxPayloadBytes: 65536, maxConnectionsPerAddress: 0, maxConcurrentConnects: 1, maxConnectWaitMs: 60_000, connectTimeoutMs: 120_000 });
    const ca = await ensureCertificateAuthority(join(mkdtempSync(join(tmpdir(), 'mf-attack-peer-')), 'pki'));
    const cert = await issueServerCertificate(ca, ['127.0.0.1']);
    const { port } = await own.listen(0, '0.0.0.0', { keyPem: cert.keyPem, chainPem: cert.chainPem });
    const py = spawn('python3', ['-c', client, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
    const next = async () => String((await lines.next()).value);
    try {
      const a = await next();
      expect(a).toMatch(/^A \d+$/);
      await expect.poll(() => own.admission().connecting, realConnections).toBe(1);
      py.stdin.write('\n');
      expect(await next()).toBe(`B ${a.split(' ')[1]}`);
      await expect.poll(() => own.admission().waiting, realConnections).toBe(1);
      py.stdin.write('\n');
      expect(await next()).toBe('A secure');
      py.stdin.write('\n');
      // Fails on current code: 'B failed TimeoutError' (B's turn was given back by A's keylog; B never begun).
      expect(await next()).toBe('B secure');
      // And A's turn was never given back: it stays held while A is open.
      await expect.poll(() => own.admission().connecting, realConnections).toBe(0);
    } finally {
      py.kill();
      await own.close();
    }
  });
});
