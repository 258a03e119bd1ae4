import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The dev server proxies the API to a running `shuqiao demo` (SHUQIAO_API,
// default http://127.0.0.1:8080); the build goes to dist/, which the Go
// binary embeds (web/embed.go).
const api = process.env.SHUQIAO_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 2500,
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes("node_modules/echarts") || id.includes("node_modules/zrender")) return "echarts";
          if (id.includes("node_modules")) return "vendor";
          return undefined;
        },
      },
    },
  },
  server: {
    proxy: {
      "/api": api,
      "/healthz": api,
    },
  },
});
