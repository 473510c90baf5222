import { cpSync } from "node:fs";
import { defineConfig } from "vitest/config";

// pdf.js's data, beside the bundle: character maps (Chinese fonts a PDF names but does not
// embed), the standard fonts' metrics, the image decoders (JPEG 2000, JBIG2 in scans) and
// colour profiles. The page view gives their URLs to pdf.js.
const pdfjsData = {
  name: "pdfjs-data",
  apply: "build" as const,
  closeBundle() {
    for (const d of ["cmaps", "standard_fonts", "wasm", "iccs"]) cpSync(`node_modules/pdfjs-dist/${d}`, `dist/pdfjs/${d}`, { recursive: true });
  },
};

// Preact through esbuild's automatic JSX runtime: no framework plugin needed.
export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  plugins: [pdfjsData],
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
