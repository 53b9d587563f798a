/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The API the dev server forwards to: `aiwf run` prints its address (default http://127.0.0.1:8080).
const api = process.env.AIWF_API ?? "http://127.0.0.1:8080";
const forwarded = ["/v1", "/health", "/schema", "/asyncapi.json", "/metrics"];

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    // Committed: `make run` serves it from the Litestar process on a machine without Node.js
    // (api/webapp.py). `make web-check` rebuilds into a temporary directory and compares.
    outDir: "../api/static/app",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // No data: URIs for fonts or images: every asset is a file under /assets (the CSP allows 'self').
    assetsInlineLimit: 0,
    // No polyfill code: every browser we support has <link rel=modulepreload>.
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
    chunkSizeWarningLimit: 400,
  },
  server: {
    host: "127.0.0.1",
    proxy: Object.fromEntries(forwarded.map((path) => [path, { target: api, changeOrigin: true }])),
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
