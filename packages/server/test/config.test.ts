import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('configuration from the environment', () => {
  it('ENTRADA_TRUST_PROXY: off, true, a hop count, or addresses and CIDR ranges', () => {
    const trust = (value?: string) => loadConfig(value === undefined ? {} : { ENTRADA_TRUST_PROXY: value }).trustProxy;
    expect(trust()).toBe(false);
    expect(trust('')).toBe(false);
    expect(trust('off')).toBe(false);
    expect(trust('false')).toBe(false);
    expect(trust('0')).toBe(false);
    expect(trust('true')).toBe(true);
    expect(trust('TRUE')).toBe(true);
    expect(trust('2')).toBe(2);
    expect(trust('127.0.0.1')).toEqual(['127.0.0.1']);
    expect(trust(' 10.0.0.0/8, 192.168.1.10 ,::1, fd00::/8,loopback')).toEqual([
      '10.0.0.0/8',
      '192.168.1.10',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
  });

  it('ENTRADA_TRUST_PROXY: anything else is a configuration error that says what is wrong', () => {
    const bad = (value: string) => () => loadConfig({ ENTRADA_TRUST_PROXY: value });
    expect(bad('10.0.0.0/33')).toThrow(ConfigError);
    expect(bad('10.0.0.0/33')).toThrow(
      'ENTRADA_TRUST_PROXY must be off, true, a hop count (1-16) or a comma-separated list of proxy addresses and CIDR ranges ' +
        '(e.g. 10.0.0.0/8,127.0.0.1), got "10.0.0.0/33": "10.0.0.0/33" is not an IP address or CIDR range',
    );
    expect(bad('proxy.internal')).toThrow('"proxy.internal" is not an IP address or CIDR range');
    expect(bad('10.0.0.1,yes please')).toThrow('"yes please" is not an IP address or CIDR range');
    expect(bad('10.0.0.0/8/8')).toThrow(ConfigError);
    expect(bad('::1/129')).toThrow(ConfigError);
    expect(bad(',')).toThrow(ConfigError);
    expect(bad('17')).toThrow('ENTRADA_TRUST_PROXY (a hop count) must be an integer between 0 and 16, got "17"');
  });

  it('ENTRADA_OWNER_EMAIL and ENTRADA_OWNER_PASSWORD: both or neither, and an email', () => {
    expect(loadConfig({}).owner).toBeUndefined();
    expect(
      loadConfig({ ENTRADA_OWNER_EMAIL: ' ops@example.com ', ENTRADA_OWNER_PASSWORD: 'a long passphrase' }).owner,
    ).toEqual({ email: 'ops@example.com', password: 'a long passphrase' });
    expect(() => loadConfig({ ENTRADA_OWNER_EMAIL: 'ops@example.com' })).toThrow(
      'ENTRADA_OWNER_EMAIL and ENTRADA_OWNER_PASSWORD go together',
    );
    expect(() => loadConfig({ ENTRADA_OWNER_PASSWORD: 'a long passphrase' })).toThrow(ConfigError);
    expect(() => loadConfig({ ENTRADA_OWNER_EMAIL: 'ops', ENTRADA_OWNER_PASSWORD: 'a long passphrase' })).toThrow(
      'ENTRADA_OWNER_EMAIL must be an email address',
    );
  });

  it('ENTRADA_ALERT_INTERVAL_MS: 15 s by default, 0 turns the evaluator off, anything else is refused', () => {
    expect(loadConfig({}).alertIntervalMs).toBe(15_000);
    expect(loadConfig({ ENTRADA_ALERT_INTERVAL_MS: '0' }).alertIntervalMs).toBe(0);
    expect(loadConfig({ ENTRADA_ALERT_INTERVAL_MS: '250' }).alertIntervalMs).toBe(250);
    expect(() => loadConfig({ ENTRADA_ALERT_INTERVAL_MS: 'soon' })).toThrow(ConfigError);
    expect(() => loadConfig({ ENTRADA_ALERT_INTERVAL_MS: '-5' })).toThrow('ENTRADA_ALERT_INTERVAL_MS');
  });

  it('ENTRADA_DEMO: on for the embedded quick start, off with DATABASE_URL or NODE_ENV=production unless asked for', () => {
    const demo = (env: NodeJS.ProcessEnv) => loadConfig(env).demo;
    expect(demo({})).toBe(true);
    expect(demo({ NODE_ENV: 'development' })).toBe(true);
    expect(demo({ DATABASE_URL: 'postgres://db/entrada' })).toBe(false);
    expect(demo({ NODE_ENV: 'production' })).toBe(false);
    expect(demo({ DATABASE_URL: 'postgres://db/entrada', ENTRADA_DEMO: 'on' })).toBe(true);
    expect(demo({ NODE_ENV: 'production', ENTRADA_DEMO: 'true' })).toBe(true);
    expect(demo({ ENTRADA_DEMO: 'off' })).toBe(false);
    expect(demo({ ENTRADA_DEMO: 'OFF' })).toBe(false);
    expect(() => loadConfig({ ENTRADA_DEMO: 'maybe' })).toThrow(
      new ConfigError('ENTRADA_DEMO must be on or off, got "maybe"'),
    );
  });
});
