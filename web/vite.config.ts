import { fileURLToPath, URL } from 'node:url';
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The pysfu server (`pysfu serve`) listens on 127.0.0.1:8080 by default. `npm run dev`
// forwards the socket.io endpoint and the HTTP API there so the app can be developed with
// hot reload against a running server.
const serverUrl = process.env.PYSFU_SERVER_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [vue()],
  base: '/',
  // Compile-time flags of vue-i18n's esm-bundler build: Composition API only, no devtools.
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // mediasoup-client is CommonJS, so it is bundled whole: the chunk it shares with
    // socket.io-client is about 270 kB minified (52 kB gzip) with mediasoup-client 3.24.1.
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      input: {
        main: fileURLToPath(new URL('./index.html', import.meta.url)),
        protocolTest: fileURLToPath(new URL('./protocol-test.html', import.meta.url)),
      },
    },
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/socket.io': { target: serverUrl, ws: true },
      '/api': { target: serverUrl },
    },
  },
  preview: {
    host: '127.0.0.1',
  },
});
