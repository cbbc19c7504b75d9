import { expect, it } from 'vitest';
import { isPublicAddress, privateHostReason } from '../src/services/webhook-address.ts';

it('tells public addresses from private, loopback, link-local and reserved ones (IPv4, IPv6, IPv4 written as IPv6)', () => {
  const cases: Array<[string, boolean]> = [
    ['8.8.8.8', true],
    ['1.1.1.1', true],
    ['172.32.0.1', true],
    ['100.128.0.1', true],
    ['2001:4860:4860::8888', true],
    ['::ffff:8.8.8.8', true],
    ['10.0.0.1', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['192.168.1.1', false],
    ['127.0.0.1', false],
    ['127.9.9.9', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['198.18.0.1', false],
    ['::1', false],
    ['::', false],
    ['fe80::1', false],
    ['fd12:3456::1', false],
    ['ff02::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:7f00:1', false],
    ['::ffff:a9fe:a9fe', false],
    ['not an address', false],
  ];
  for (const [address, pub] of cases) expect(isPublicAddress(address), address).toBe(pub);
});

it("names the reason a URL's host cannot receive webhooks, and lets public names through to the delivery-time check", () => {
  expect(privateHostReason(new URL('http://localhost:3000/'))).toContain('localhost');
  expect(privateHostReason(new URL('http://api.localhost/'))).toContain('localhost');
  expect(privateHostReason(new URL('http://localhost./'))).toContain('localhost');
  expect(privateHostReason(new URL('http://[::1]/'))).toContain('private');
  expect(privateHostReason(new URL('http://2130706433/'))).toContain('private'); // 127.0.0.1 as one number: URL normalises it
  expect(privateHostReason(new URL('https://hooks.example.com/x'))).toBeNull();
  expect(privateHostReason(new URL('https://93.184.215.14/x'))).toBeNull();
});
