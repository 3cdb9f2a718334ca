import { describe, expect, it } from 'vitest';
import { ConfigError } from '@metalfleet/config';
import { parseCommandLine } from './config.ts';
import { listeningOn } from './listen-check.ts';

const parse = (argv: string[], env: Record<string, string> = {}) => parseCommandLine(argv, env, '0.0.0');

describe('manager config', () => {
  it('holds the structured options parsed, once, in the frozen config', () => {
    const config = parse([
      '--maintenance-windows', '22:00-04:00', '--vlan-pool', '200-299', '--ovsdb-switches', 'leaf-1=10.0.0.5:6640', '--tls-hosts', 'mgr.example, 10.0.0.9',
      '--alert-webhook-urls', 'https://hooks.example/a/', '--discovery-image', 'discovery@2', '--public-url', 'http://boot.example:7473/',
    ], { METALFLEET_BMC_NETWORKS: '10.1.0.0/16' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(config.maintenanceWindows).toEqual([{ startMinute: 22 * 60, endMinute: 4 * 60 }]);
    expect(config.vlanPool).toEqual({ kind: 'VLAN', first: 200, last: 299 });
    expect(config.vniPool).toEqual({ kind: 'VNI', first: 10000, last: 99999 });
    expect(config.ovsdbSwitches).toEqual([{ switchName: 'leaf-1', host: '10.0.0.5', port: 6640 }]);
    expect(config.tlsHosts).toEqual(['mgr.example', '10.0.0.9']);
    expect(config.alertWebhookUrls).toEqual(['https://hooks.example/a']);
    expect(config.slackWebhookUrls).toEqual([]);
    expect(config.discoveryImage).toEqual({ name: 'discovery', version: '2' });
    expect(config.publicUrl).toBe('http://boot.example:7473');
    expect(config.bmcNetworks.ranges).toEqual(['10.1.0.0/16']);
    expect(config.alertRulesFile).toBeNull();
  });

  it('is safe by default: this machine only, acceptance testing on; the ready line says who can reach it', () => {
    const config = parse([]);
    expect(config.listenHost).toBe('127.0.0.1');
    expect(config.acceptance).toBe('on');
    expect(listeningOn(config.listenHost)).toBe('127.0.0.1: this machine only (--listen-host 0.0.0.0 to serve nodes and operators elsewhere)');
    expect(listeningOn(parse(['--listen-host', '0.0.0.0']).listenHost)).toBe('0.0.0.0: every address of this machine');
    expect(listeningOn('10.0.0.9')).toBe('10.0.0.9');
  });

  it('refuses a bad value naming the option, and lists every bad one', () => {
    expect(() => parse(['--vni-pool', '9-1'])).toThrow(new ConfigError(['--vni-pool: VNI pool 9-1 is not within 1-16777215']));
    expect(() => parse(['--mqtt-port', '7470'])).toThrow('--mqtt-port 7470: the same port as --http-port');
    const both = (() => {
      try {
        parse(['--drain-hook-url', 'x'], { METALFLEET_OVSDB_SWITCHES: 'leaf' });
      } catch (error) {
        return (error as ConfigError).problems;
      }
      return [];
    })();
    expect(both).toEqual(['METALFLEET_OVSDB_SWITCHES: switch "leaf" is not <name>=<host>:<port>', '--drain-hook-url: "x" is not a URL (e.g. https://host:port/path)']);
  });

  it('refuses a duration past what it can be used for, before anything is written', () => {
    // A bootstrap token lifetime past any date: the store threw a stack trace after the key and the CA were created.
    expect(() => parse(['--initial-token-ttl-h', '1e300'])).toThrow('--initial-token-ttl-h: must be <= 8784');
    // An interval past a timer's 2^31-1 ms: Node runs it every millisecond instead (the presence sweep, the fabric pass).
    expect(() => parse(['--heartbeat-grace-s', '1e10'])).toThrow('--heartbeat-grace-s: must be <= 2147483');
    expect(() => parse(['--fabric-interval-s', '1e7'])).toThrow('--fabric-interval-s: must be <= 2147483');
    expect(() => parse([], { METALFLEET_REIMAGE_STEP_TIMEOUT_S: '1e13' })).toThrow('METALFLEET_REIMAGE_STEP_TIMEOUT_S: must be <= 2147483');
    expect(parse(['--remediation-cooldown-s', '604800']).remediationCooldownS).toBe(604800);
  });
});
