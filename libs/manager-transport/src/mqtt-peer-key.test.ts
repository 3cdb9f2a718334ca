// Found by a hostile review (evening of 2026-11-27): the MQTT gate found a connection's turn from the TLS keylog
// by the peer's address:port alone. A client can hold two connections from one address and port (SO_REUSEADDR
// on both, each to another address of the manager: 127.0.0.1 and 127.0.0.2 here, two NICs in a rack). The
// second one's entry replaced the first's: the first's keylog gave back the second's waiting turn (so the second
// was never begun, nor shed: it hung, holding its unauthenticated slot). Turns now end by the connection's own
// closure, once the server answered its hello; the unauthenticated slots are still found by the whole 4-tuple.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { createNodeBroker } from './mqtt-broker.ts';
import { ensureCertificateAuthority, issueServerCertificate } from './pki.ts';

const realConnections = { timeout: 60_000 };

// Two TCP connections from 127.0.0.1:<one port>, to 127.0.0.1 and 127.0.0.2, over TLS 1.2, each stalling its
// handshake after its hello; steps on stdin, progress on stdout.
const client = String.raw`
import socket, ssl, sys
port = int(sys.argv[1])
def dial(dst, local_port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', local_port)); s.connect((dst, port)); return s
def field(text):
    b = text.encode(); return len(b).to_bytes(2, 'big') + b
def connect_packet(node, secret):
    rest = field('MQTT') + bytes([4, 0xC2]) + (60).to_bytes(2, 'big') + field(node) + field(node) + field(secret)
    return bytes([0x10, len(rest)]) + rest
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
def hello(s):
    t = ctx.wrap_socket(s, server_hostname='127.0.0.1', do_handshake_on_connect=False)
    t.setblocking(False)
    try:
        t.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return t
a = dial('127.0.0.1', 0); local = a.getsockname()[1]
sa = hello(a)
print('A', local, flush=True); sys.stdin.readline()
sb = hello(dial('127.0.0.2', local))
print('B', sb.getsockname()[1], flush=True); sys.stdin.readline()
sa.settimeout(15); sa.do_handshake()
sa.sendall(connect_packet('node-a', 'secret-a'))
connack = sa.recv(4)
print('A CONNACK', connack.hex(), flush=True); sys.stdin.readline()
sb.settimeout(15)
try:
    sb.do_handshake(); print('B secure', flush=True)
except Exception as e:
    print('B failed', type(e).__name__, flush=True)
sys.stdin.readline()
`;

describe('MQTT turns keyed by the whole connection, not the peer address:port', realConnections, () => {
  it('two connections from one address and port each get their turn: the first one\'s authentication gives back its own turn, and the second begins', async () => {
    const own = await createNodeBroker({ authenticateNode: async (nodeId, secret) => nodeId === 'node-a' && secret === 'secret-a', maxPayloadBytes: 65536, maxConnectionsPerAddress: 0, maxConcurrentConnects: 1, maxConnectWaitMs: 60_000, connectTimeoutMs: 120_000 });
    const ca = await ensureCertificateAuthority(join(mkdtempSync(join(tmpdir(), 'mf-attack-peer-')), 'pki'));
    const cert = await issueServerCertificate(ca, ['127.0.0.1']);
    const { port } = await own.listen(0, '0.0.0.0', { keyPem: cert.keyPem, chainPem: cert.chainPem });
    const py = spawn('python3', ['-c', client, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
    const next = async () => String((await lines.next()).value);
    try {
      // A sent its hello and stalls its handshake: the server answered, and A holds no turn (the only one).
      const a = await next();
      expect(a).toMatch(/^A \d+$/);
      await expect.poll(() => own.admission().connecting, realConnections).toBe(0);
      py.stdin.write('\n');
      // B, from the same address and port, sent its hello: it got the turn at once, and gave it back.
      expect(await next()).toBe(`B ${a.split(' ')[1]}`);
      await expect.poll(() => own.admission().connecting + own.admission().waiting, realConnections).toBe(0);
      py.stdin.write('\n');
      // A finishes its handshake and authenticates.
      expect(await next()).toBe('A CONNACK 20020000');
      py.stdin.write('\n');
      // B's handshake goes on: keyed by address:port, A's authentication took B's place and B hung ('B failed TimeoutError').
      expect(await next()).toBe('B secure');
      expect(own.admission()).toMatchObject({ connecting: 0, waiting: 0 });
    } finally {
      py.kill();
      await own.close();
    }
  });
});
