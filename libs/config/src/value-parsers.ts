// Parsers for config values that are lists or addresses, shared by the apps'
// config schemas: each returns the parsed value or throws an Error that says
// what is wrong with the value (loadConfig names the option).
import { isIP } from 'node:net';

/** "a, b,,c" → ['a', 'b', 'c']. */
export function commaList(text: string): string[] {
  return text.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

/** An http:// or https:// URL with a host, without a trailing slash; '' stays '' (not set). */
export function optionalHttpUrl(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return '';
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new Error(`"${trimmed}" is not a URL (e.g. https://host:port/path)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`"${trimmed}" is not an http:// or https:// URL`);
  if (url.hostname === '') throw new Error(`"${trimmed}" names no host`);
  return trimmed.replace(/\/+$/, '');
}

/** Comma-separated broker URLs of the given schemes with a host and a port, each once; '' is none. */
function brokerUrlList(text: string, schemes: readonly string[], example: string): string[] {
  const urls = commaList(text).map((item) => {
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw new Error(`"${item}" is not a URL (e.g. ${example})`);
    }
    if (!schemes.includes(url.protocol)) throw new Error(`"${item}" must begin with ${schemes.map((s) => `${s}//`).join(' or ')}`);
    if (url.hostname === '' || url.port === '') throw new Error(`"${item}" must name a host and a port (e.g. ${example})`);
    if (url.pathname !== '' && url.pathname !== '/') throw new Error(`"${item}" has a path; a broker URL is only ${example.replace(/\/\/.*/, '//host:port')}`);
    return `${url.protocol}//${url.host}`;
  });
  const twice = urls.find((url, i) => urls.indexOf(url) !== i);
  if (twice !== undefined) throw new Error(`${twice} is listed twice`);
  return urls;
}

/** Comma-separated mqtts:// (or mqtt://) broker URLs with a host and a port, each once; '' is none. */
export const mqttUrlList = (text: string) => brokerUrlList(text, ['mqtts:', 'mqtt:'], 'mqtts://broker-1:8883');

/** Comma-separated nats:// (or tls://) URLs of a NATS cluster's client ports, each once; '' is none. */
export const natsUrlList = (text: string) => brokerUrlList(text, ['nats:', 'tls:'], 'nats://broker-1:4222');

/** Comma-separated http(s) URLs; a URL listed twice is refused (it would be told everything twice). */
export function httpUrlList(text: string): string[] {
  const urls = commaList(text).map(optionalHttpUrl);
  const twice = urls.find((url, i) => urls.indexOf(url) !== i);
  if (twice !== undefined) throw new Error(`${twice} is listed twice`);
  return urls;
}

const hostLabel = /^(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$/;

/** A DNS name or an IP address (IPv6 with or without brackets). */
export function isHost(text: string): boolean {
  const bare = text.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare) !== 0) return true;
  return text.length <= 253 && text.replace(/\.$/, '').split('.').every((label) => hostLabel.test(label));
}

/** Comma-separated host names and addresses. */
export function hostList(text: string): string[] {
  const hosts = commaList(text);
  const bad = hosts.find((host) => !isHost(host));
  if (bad !== undefined) throw new Error(`"${bad}" is not a host name or IP address`);
  return hosts;
}

/** One host name or address; '' stays '' (not set). */
export function optionalHost(text: string): string {
  const trimmed = text.trim();
  if (trimmed !== '' && !isHost(trimmed)) throw new Error(`"${trimmed}" is not a host name or IP address`);
  return trimmed;
}

/** "<host>:<port>" (an IPv6 address in brackets), e.g. 10.0.2.100:7471 or [fd00::1]:7471. */
export function hostAndPort(text: string): string {
  const trimmed = text.trim();
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(trimmed);
  const port = Number(match?.[2]);
  if (!match?.[1] || !isHost(match[1]) || port < 1 || port > 65535) throw new Error(`"${trimmed}" is not <host>:<port> (e.g. 10.0.2.100:7471)`);
  return trimmed;
}
