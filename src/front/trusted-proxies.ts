/**
 * Which peers may speak for a client (--forwarded-allow-ips), compiled once into a BlockList.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export type TrustCheck = (address: string | undefined) => boolean;

function family(address: string): 'ipv4' | 'ipv6' | null {
  return isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
}

/** IPv4 peers on a dual-stack socket arrive as ::ffff:a.b.c.d. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

export function compileTrust(ranges: readonly string[]): TrustCheck {
  if (ranges.includes('*')) return () => true;
  const list = new BlockList();
  for (const range of ranges) {
    const [address, bits] = range.split('/');
    const fam = family(address);
    if (!fam) continue;
    if (bits === undefined) list.addAddress(address, fam);
    else list.addSubnet(address, Number(bits), fam);
  }
  return (address) => {
    if (address === undefined) return true; // a unix socket peer is on this machine
    const plain = plainAddress(address);
    const fam = family(plain);
    return fam !== null && list.check(plain, fam);
  };
}
