/**
 * A small YAML writer for the manifests keel generates: block style, every string double-quoted
 * (JSON's string syntax is valid YAML), so no value can turn into a number, a boolean or a
 * comment by accident ("on", "0755", "#"). Only plain data: objects, arrays, strings, numbers,
 * booleans and null; undefined entries are left out.
 */
export type YamlValue = string | number | boolean | null | undefined | readonly YamlValue[] | { readonly [key: string]: YamlValue };

function isBlock(value: YamlValue): boolean {
  if (value === null || typeof value !== 'object') return false;
  return Array.isArray(value) ? value.length > 0 : Object.keys(value).length > 0;
}

function inline(value: YamlValue): string {
  if (Array.isArray(value)) return '[]';
  if (value !== null && typeof value === 'object') return '{}';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

function key(name: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(name) ? name : JSON.stringify(name);
}

function block(value: YamlValue, pad: string): string[] {
  if (Array.isArray(value)) {
    return value.flatMap((item: YamlValue) => {
      if (!isBlock(item)) return [`${pad}- ${inline(item)}`];
      const inner = block(item, `${pad}  `);
      inner[0] = `${pad}- ${inner[0].slice(pad.length + 2)}`;
      return inner;
    });
  }
  return Object.entries(value as Record<string, YamlValue>)
    .filter(([, v]) => v !== undefined)
    .flatMap(([name, v]) => (isBlock(v) ? [`${pad}${key(name)}:`, ...block(v, Array.isArray(v) ? pad : `${pad}  `)] : [`${pad}${key(name)}: ${inline(v)}`]));
}

/**
 * One YAML document for a plain object.
 *
 * @example
 *   toYaml({ kind: 'Service', spec: { ports: [{ port: 80 }] } })
 *   // 'kind: "Service"\nspec:\n  ports:\n  - port: 80\n'
 */
export function toYaml(value: { readonly [key: string]: YamlValue }): string {
  return `${block(value, '').join('\n')}\n`;
}
