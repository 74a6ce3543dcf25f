/**
 * Value types of the settings table: each turns a raw value (a flag or env string, or a
 * config-file value) into the typed setting, or throws a ValueError whose text says what
 * is allowed. The `allowed` text is also what --help and docs/settings.md print.
 */
import { z } from 'zod';

export class ValueError extends Error {}

export interface ValueType<T> {
  /** Human text for messages, --help and docs: "a whole number from 1 to 1024". */
  readonly allowed: string;
  readonly parse: (raw: unknown) => T;
  /** How a value is shown in --print-config and docs. */
  readonly show?: (value: T) => string;
}

function fromZod<T>(schema: z.ZodType<T>, allowed: string): ValueType<T> {
  return {
    allowed,
    parse(raw) {
      const result = schema.safeParse(typeof raw === 'string' ? raw.trim() : raw);
      if (!result.success) throw new ValueError(allowed);
      return result.data;
    },
  };
}

const numeric = z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/).transform(Number)]);

export function integer(min: number, max: number): ValueType<number> {
  return fromZod(numeric.pipe(z.number().int().min(min).max(max)), `a whole number from ${min} to ${max}`);
}

const durationUnits: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Seconds, as Gunicorn takes them ("30"), or with a unit ("500ms", "2m"). */
export function seconds(min = 0, max = 86_400): ValueType<number> {
  const allowed = `a number of seconds from ${min} to ${max} (units ms, s, m, h allowed)`;
  return {
    allowed,
    parse(raw) {
      const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(String(raw).trim());
      if (!match) throw new ValueError(allowed);
      const value = Number(match[1]) * durationUnits[match[2] ?? 's'];
      if (value < min || value > max) throw new ValueError(allowed);
      return value;
    },
  };
}

const sizeUnits: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** A byte size: "1048576", "512k", "1m", "2GiB". */
export function bytes(): ValueType<number> {
  const allowed = 'a size in bytes, optionally with a unit (k, m, g), e.g. 512k or 1m; 0 turns it off';
  return {
    allowed,
    parse(raw) {
      const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(String(raw).trim());
      const unit = match ? sizeUnits[match[2].toLowerCase()] : undefined;
      if (!match || unit === undefined) throw new ValueError(allowed);
      return Math.round(Number(match[1]) * unit);
    },
    show: (value) => String(value),
  };
}

export function boolean(): ValueType<boolean> {
  const allowed = 'true or false';
  return {
    allowed,
    parse(raw) {
      if (typeof raw === 'boolean') return raw;
      const text = String(raw).trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(text)) return true;
      if (['false', '0', 'no', 'off'].includes(text)) return false;
      throw new ValueError(allowed);
    },
  };
}

export function oneOf<const T extends string>(choices: readonly T[]): ValueType<T> {
  return fromZod(z.enum(choices as unknown as [T, ...T[]]), `one of ${choices.join(', ')}`);
}

export function text(allowed = 'a string'): ValueType<string> {
  return fromZod(z.string().min(1), allowed);
}

export function optionalText(allowed: string, minLength = 0): ValueType<string | null> {
  return {
    allowed,
    parse(raw) {
      if (raw === null || raw === undefined || raw === '') return null;
      if (typeof raw !== 'string' || raw.length < minLength) throw new ValueError(allowed);
      return raw;
    },
  };
}

/** A list: repeated flags, a comma-separated env value or string, or an array in a config file. */
export function listOf<T>(item: ValueType<T>, allowedList?: string): ValueType<T[]> {
  const allowed = allowedList ?? `a comma-separated list of ${item.allowed}`;
  return {
    allowed,
    parse(raw) {
      const items = Array.isArray(raw) ? raw.flatMap((v) => (typeof v === 'string' ? v.split(',') : [v])) : String(raw).split(',');
      const cleaned = items.map((v) => (typeof v === 'string' ? v.trim() : v)).filter((v) => v !== '');
      return cleaned.map((v) => item.parse(v));
    },
    show: (value) => value.map((v) => (item.show ? item.show(v) : String(v))).join(','),
  };
}

/**
 * How a bind was prefixed: `https://` (TLS) or `http://` (plain). A bare bind has no scheme and is
 * TLS when keel has a certificate source (as Gunicorn's --certfile turns every bind into TLS).
 */
export type BindScheme = 'http' | 'https';

/** Where keel listens: a TCP address or a unix socket path. */
export type BindAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly text: string; readonly scheme?: BindScheme }
  | { readonly kind: 'unix'; readonly path: string; readonly text: string; readonly scheme?: BindScheme };

export function parseBindAddress(raw: string, defaultPort: number): BindAddress {
  let value = raw.trim();
  const prefix = /^(https?):\/\//i.exec(value);
  if (prefix) {
    const scheme = prefix[1].toLowerCase() as BindScheme;
    value = value.slice(prefix[0].length).replace(/\/$/, '');
    const inner = parseBindAddress(value, scheme === 'https' && !/:\d+$|^\d+$/.test(value) ? 443 : defaultPort);
    return { ...inner, scheme, text: `${scheme}://${inner.text}` };
  }
  if (value.startsWith('unix:')) {
    const path = value.slice('unix:'.length);
    if (!path) throw new ValueError('unix:/path/to/socket');
    return { kind: 'unix', path, text: value };
  }
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(value);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else if (/^\d+$/.test(value)) {
    host = '127.0.0.1';
    portText = value;
  } else {
    const parts = value.split(':');
    if (parts.length > 2 || !parts[0]) throw new ValueError('');
    host = parts[0];
    portText = parts[1];
  }
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ValueError('');
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) throw new ValueError('');
  const shown = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return { kind: 'tcp', host, port, text: shown };
}

/** @param schemes whether `https://` and `http://` prefixes are allowed (--bind), or not (--admin). */
export function bindAddress(defaultPort: number, schemes = false): ValueType<BindAddress> {
  const allowed = `HOST:PORT, [IPv6]:PORT or unix:/path/to/socket${schemes ? ', optionally prefixed https:// or http://' : ''}`;
  return {
    allowed,
    parse(raw) {
      let bind: BindAddress;
      try {
        bind = parseBindAddress(String(raw), defaultPort);
      } catch {
        throw new ValueError(allowed);
      }
      if (bind.scheme && !schemes) throw new ValueError(allowed);
      return bind;
    },
    show: (value) => value.text,
  };
}

/** A bind address, or `off`. */
export function optionalBindAddress(defaultPort: number): ValueType<BindAddress | null> {
  const inner = bindAddress(defaultPort);
  return {
    allowed: `${inner.allowed}, or off`,
    parse(raw) {
      if (raw === null || raw === false || String(raw).trim().toLowerCase() === 'off') return null;
      try {
        return inner.parse(raw);
      } catch {
        throw new ValueError(`${inner.allowed}, or off`);
      }
    },
    show: (value) => (value ? value.text : 'off'),
  };
}

/** An IP address or CIDR block, or `*` for any. */
export function ipRange(): ValueType<string> {
  const allowed = 'IP addresses or CIDR blocks (e.g. 10.0.0.0/8), or * for any';
  return {
    allowed,
    parse(raw) {
      const value = String(raw).trim();
      if (value === '*') return value;
      const [address, bits, extra] = value.split('/');
      if (extra !== undefined) throw new ValueError(allowed);
      const isV4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(address) && address.split('.').every((o) => Number(o) <= 255);
      const isV6 = !isV4 && /^[0-9a-fA-F:.]+$/.test(address) && address.includes(':');
      if (!isV4 && !isV6) throw new ValueError(allowed);
      if (bits !== undefined) {
        const n = Number(bits);
        if (!/^\d+$/.test(bits) || n > (isV4 ? 32 : 128)) throw new ValueError(allowed);
      }
      return value;
    },
  };
}

/** One `--cert HOST=CERTFILE,KEYFILE` pair: a certificate chosen by SNI for HOST. */
export interface SniCertificate {
  readonly host: string;
  readonly certfile: string;
  readonly keyfile: string;
}

/** `--cert` pairs: repeated flags, an array in a config file, or `;`-separated in KEEL_CERT. */
export function sniCertificates(): ValueType<SniCertificate[]> {
  const allowed = 'HOST=CERTFILE,KEYFILE (repeatable; HOST may be *.example.com)';
  const one = (value: string): SniCertificate => {
    const match = /^([A-Za-z0-9*.:-]+)=([^,]+),(.+)$/.exec(value.trim());
    if (!match || (match[1].includes('*') && !/^\*\.[^*]+$/.test(match[1]))) throw new ValueError(allowed);
    return { host: match[1].toLowerCase(), certfile: match[2].trim(), keyfile: match[3].trim() };
  };
  return {
    allowed,
    parse(raw) {
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(';');
      return items.map((v) => v.trim()).filter((v) => v !== '').map(one);
    },
    show: (value) => value.map((c) => `${c.host}=${c.certfile},${c.keyfile}`).join(';'),
  };
}

/** Strict-Transport-Security: `off`, or `max-age=N[;includeSubDomains][;preload]`. */
export function hstsPolicy(): ValueType<string | null> {
  const allowed = 'off, or max-age=SECONDS optionally followed by ;includeSubDomains and ;preload';
  return {
    allowed,
    parse(raw) {
      const value = String(raw).trim();
      if (value.toLowerCase() === 'off' || raw === false) return null;
      const parts = value.split(/\s*[;,]\s*/).filter((p) => p !== '');
      const maxAge = /^max-age=(\d{1,10})$/i.exec(parts[0] ?? '');
      if (!maxAge) throw new ValueError(allowed);
      const out = [`max-age=${maxAge[1]}`];
      for (const part of parts.slice(1)) {
        if (/^includesubdomains$/i.test(part)) out.push('includeSubDomains');
        else if (/^preload$/i.test(part)) out.push('preload');
        else throw new ValueError(allowed);
      }
      return out.join('; ');
    },
    show: (value) => value ?? 'off',
  };
}

/** A domain name for a certificate: letters, digits, dots and dashes, optionally one leading `*.`. */
export function domainName(): ValueType<string> {
  const allowed = 'a domain name such as example.com (repeatable)';
  return {
    allowed,
    parse(raw) {
      const value = String(raw).trim().toLowerCase().replace(/\.$/, '');
      if (!/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(value)) throw new ValueError(allowed);
      return value;
    },
  };
}
