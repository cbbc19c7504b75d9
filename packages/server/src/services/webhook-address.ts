/**
 * Where webhooks may be delivered. A webhook URL is typed by an organiser and called by the server from inside the
 * deployment's network, so without a check it reaches what only the server can reach (the cloud's metadata
 * service at 169.254.169.254, the database, Redis, an admin port on localhost): server-side request forgery. Unless
 * the operator allows private receivers (ENTRADA_WEBHOOK_ALLOW_PRIVATE=1, for receivers inside their own network),
 * a URL naming a private address is refused when it is saved, and every delivery checks the addresses its host
 * name resolves to at connection time (so a name that later resolves to a private address — DNS rebinding — is
 * refused too).
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent } from 'undici';

const notPublic = new BlockList();
// IPv4: "this network", private (RFC 1918), shared CGNAT, loopback, link-local (cloud metadata), IETF protocol
// assignments, benchmarking, multicast, reserved and broadcast.
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  notPublic.addSubnet(net, prefix, 'ipv4');
// IPv6: unspecified, loopback, IPv4-mapped (checked as IPv4 below), unique local, link-local, multicast, and the
// NAT64 local-use prefix.
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b:1::', 48],
] as const) {
  notPublic.addSubnet(net, prefix, 'ipv6');
}

/** An IPv4 address written as IPv6 (::ffff:10.0.0.1 or ::ffff:a00:1) as IPv4; other addresses as they are. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const lower = address.toLowerCase();
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return { address: dotted[1]!, family: 'ipv4' };
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: 'ipv4' };
  }
  return { address, family: isIP(address) === 4 ? 'ipv4' : 'ipv6' };
}

/** Whether an IP address is one the public internet routes to (false for private, loopback, link-local…). */
export function isPublicAddress(address: string): boolean {
  if (isIP(address) === 0) return false;
  const a = unmapped(address);
  return !notPublic.check(a.address, a.family);
}

/**
 * Why a URL's host cannot receive webhooks when private receivers are not allowed (null: it may, subject to the
 * check of what its name resolves to when delivering).
 */
export function privateHostReason(url: URL): string | null {
  // Brackets of an IPv6 literal and a fully qualified name's final dot (localhost.) do not change the host.
  const host = url.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return 'names this machine (localhost)';
  if (isIP(host) !== 0 && !isPublicAddress(host)) return 'is a private, loopback or link-local address';
  return null;
}

export class PrivateAddressError extends Error {
  readonly code = 'EPRIVATEADDRESS';
  constructor() {
    super('the receiver resolves to a private, loopback or link-local address');
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** dns.lookup, refusing a name whose addresses are not all public (every one is checked: a client may try any). */
export function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    if (addresses.length === 0 || addresses.some((a) => !isPublicAddress(a.address)))
      return callback(new PrivateAddressError(), []);
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}

/**
 * The HTTP agent webhook deliveries use: with private receivers refused, its connections go only to public
 * addresses, checked at the moment of connecting (a literal IP in the URL is checked before the request).
 */
export function webhookAgent(allowPrivate: boolean): Agent {
  return allowPrivate ? new Agent() : new Agent({ connect: { lookup: publicOnlyLookup } });
}
