/**
 * The exports of a module loaded with import(), as its author wrote them. TypeScript that tsx
 * compiled to CommonJS (a .ts file in a package without "type": "module") arrives as
 * { default: exports } with exports.__esModule set; that exports object is the real namespace.
 * Used for both the app and keel.config files.
 */
export function moduleExports(namespace: Record<string, unknown>): Record<string, unknown> {
  const inner = namespace.default as { __esModule?: unknown } | undefined;
  return inner && typeof inner === 'object' && inner.__esModule === true ? (inner as Record<string, unknown>) : namespace;
}
