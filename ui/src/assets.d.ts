// Vite's `?url` imports: the URL of the file as built.
declare module "*?url" {
  const url: string;
  export default url;
}

// The one Node call the build's config makes (no @types/node for it).
declare module "node:fs" {
  export function cpSync(source: string, destination: string, options?: { recursive?: boolean }): void;
}
