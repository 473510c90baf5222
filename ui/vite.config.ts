import { defineConfig } from "vitest/config";

// Preact through esbuild's automatic JSX runtime: no framework plugin needed.
export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    target: "safari16",
    outDir: "dist",
    emptyOutDir: true,
    // One CSS file and module scripts only: the CSP allows nothing inline.
    cssCodeSplit: false,
    assetsInlineLimit: 0,
  },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
