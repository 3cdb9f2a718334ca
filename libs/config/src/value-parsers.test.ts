import { describe, expect, it } from 'vitest';
import { hostAndPort, hostList, httpUrlList, optionalHost, optionalHttpUrl } from './value-parsers.ts';

describe('config value parsers', () => {
  it('URLs: http(s) only, trailing slash dropped, empty means not set', () => {
    expect(optionalHttpUrl('')).toBe('');
    expect(optionalHttpUrl(' https://hooks.example/x/ ')).toBe('https://hooks.example/x');
    expect(() => optionalHttpUrl('hooks.example/x')).toThrow('"hooks.example/x" is not a URL');
    expect(() => optionalHttpUrl('ftp://files.example')).toThrow('is not an http:// or https:// URL');
  });

  it('URL lists: each checked, none twice', () => {
    expect(httpUrlList('http://a:9093, http://b:9093,')).toEqual(['http://a:9093', 'http://b:9093']);
    expect(() => httpUrlList('http://a:9093,not a url')).toThrow('"not a url" is not a URL');
    expect(() => httpUrlList('http://a:9093,http://a:9093/')).toThrow('http://a:9093 is listed twice');
  });

  it('hosts: names and addresses', () => {
    expect(hostList('mgr.example, 10.0.0.1, [fd00::1], fd00::2')).toEqual(['mgr.example', '10.0.0.1', '[fd00::1]', 'fd00::2']);
    expect(() => hostList('good,bad name')).toThrow('"bad name" is not a host name or IP address');
    expect(optionalHost('')).toBe('');
    expect(() => optionalHost('http://x')).toThrow('is not a host name');
  });

  it('host and port', () => {
    expect(hostAndPort('10.0.2.100:7471')).toBe('10.0.2.100:7471');
    expect(hostAndPort('[fd00::1]:7471')).toBe('[fd00::1]:7471');
    for (const bad of ['mgr', 'mgr:0', 'mgr:70000', 'https://mgr:7471', 'fd00::1:7471']) expect(() => hostAndPort(bad)).toThrow('is not <host>:<port>');
  });
});
