import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { webhookUrlRefused } from './webhooks.errors.js';

// Where a webhook may be sent (issue 13, finding 4): never inside the network the service runs
// in. The URL is checked when it is saved and again at every delivery, where the connection goes
// to the address that was checked (a name resolving elsewhere the second time cannot redirect it:
// DNS rebinding).

export interface WebhookUrlPolicy {
  /** accept http:// (development); https only otherwise (config WEBHOOK_ALLOW_HTTP) */
  allowHttp: boolean;
  /** host names or addresses allowed although private (config WEBHOOK_ALLOW_PRIVATE_HOSTS) */
  allowPrivateHosts: readonly string[];
}

export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/** Ranges no webhook may reach: private, loopback, link-local (cloud metadata), CGNAT, reserved. */
const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, 169.254.169.254 metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated)
  ['64:ff9b:1::', 48], // local-use NAT64 (RFC 8215): reaches the site's own IPv4 networks
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds an IPv4 address
  ['2001::', 32], // Teredo
  ['fc00::', 7], // unique local (fd00:ec2::254 metadata)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}

/**
 * The IPv4 address an IPv6 one carries (mapped `::ffff:a.b.c.d`, translated `::ffff:0:a.b.c.d`,
 * NAT64 `64:ff9b::/96`), if any.
 */
function embeddedIpv4(address: string): string | null {
  const m = /^(?:::ffff:(?:0:)?|64:ff9b::)(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(
    address,
  );
  if (!m) return null;
  if (m[1]) return m[1];
  const hi = parseInt(m[2]!, 16);
  const lo = parseInt(m[3]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Is this address one a webhook may not reach? */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family !== 6) return true;
  const v4 = embeddedIpv4(address);
  if (v4) return BLOCKED.check(v4, 'ipv4');
  return BLOCKED.check(address, 'ipv6');
}

/** The host exactly as written in the URL (without user info and port), lower-cased. */
function hostAsWritten(raw: string): string {
  const afterScheme = raw.slice(raw.indexOf('//') + 2);
  const authority = afterScheme.split(/[/?#\\]/, 1)[0] ?? '';
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  return (
    host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '')
  ).toLowerCase();
}

/**
 * Checks what a URL says, without resolving it: https (or http when allowed), no credentials,
 * an IPv4 address only as four decimal numbers (`0x7f000001`, `2130706433`, `127.1` are what the
 * URL parser would turn into 127.0.0.1). Throws WEBHOOK_URL_REFUSED; answers the parsed URL.
 */
export function checkWebhookUrlForm(raw: string, policy: WebhookUrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw webhookUrlRefused('is not a URL');
  }
  if (url.protocol !== 'https:' && !(policy.allowHttp && url.protocol === 'http:')) {
    throw webhookUrlRefused(policy.allowHttp ? 'must be https or http' : 'must be https');
  }
  if (url.username || url.password) throw webhookUrlRefused('must not carry credentials');
  if (isIP(url.hostname) === 4 && hostAsWritten(raw) !== url.hostname) {
    throw webhookUrlRefused('must write an IPv4 address as four decimal numbers');
  }
  return url;
}

const bare = (hostname: string) => hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();

/**
 * Resolves the URL's host and checks every address it has: all must be public, unless the host
 * or the address is allowed by the policy. Answers the first address, the one to connect to, or
 * null for a name that does not resolve when `unresolved` is 'accept'. Throws WEBHOOK_URL_REFUSED.
 */
export async function resolveWebhookHost(
  hostname: string,
  policy: WebhookUrlPolicy,
  unresolved: 'accept' | 'refuse' = 'refuse',
): Promise<CheckedAddress | null> {
  const host = bare(hostname);
  const literal = isIP(host);
  let addresses: CheckedAddress[];
  if (literal) {
    addresses = [{ address: host, family: literal as 4 | 6 }];
  } else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => ({
        address: a.address,
        family: a.family as 4 | 6,
      }));
    } catch {
      if (unresolved === 'accept') return null;
      throw webhookUrlRefused(`names a host that does not resolve (${host})`);
    }
  }
  if (!addresses.length) throw webhookUrlRefused(`names a host that does not resolve (${host})`);
  const allowed = new Set(policy.allowPrivateHosts);
  if (!allowed.has(host)) {
    const internal = addresses.find((a) => isInternalAddress(a.address) && !allowed.has(a.address));
    if (internal) {
      throw webhookUrlRefused(`reaches an internal address (${internal.address})`);
    }
  }
  return addresses[0]!;
}

/**
 * Both checks, as the institution's settings run them when a URL is saved. A name that does not
 * resolve yet is accepted (the receiver may be set up after the URL): it has no address to
 * refuse, and every delivery resolves and checks it again before connecting.
 */
export function webhookUrlChecker(policy: WebhookUrlPolicy) {
  return async (raw: string): Promise<void> => {
    const url = checkWebhookUrlForm(raw, policy);
    await resolveWebhookHost(url.hostname, policy, 'accept');
  };
}
