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

export function optionalText(allowed: string): ValueType<string | null> {
  return {
    allowed,
    parse(raw) {
      if (raw === null || raw === undefined || raw === '') return null;
      if (typeof raw !== 'string') throw new ValueError(allowed);
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

/** Where keel listens: a TCP address or a unix socket path. */
export type BindAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly text: string }
  | { readonly kind: 'unix'; readonly path: string; readonly text: string };

export function parseBindAddress(raw: string, defaultPort: number): BindAddress {
  const value = raw.trim();
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

export function bindAddress(defaultPort: number): ValueType<BindAddress> {
  const allowed = 'HOST:PORT, [IPv6]:PORT or unix:/path/to/socket';
  return {
    allowed,
    parse(raw) {
      try {
        return parseBindAddress(String(raw), defaultPort);
      } catch {
        throw new ValueError(allowed);
      }
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
