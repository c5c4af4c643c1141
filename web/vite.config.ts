import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The API server during development; in production the Rust server serves dist/ at the same origin.
const api = process.env.PINGAN_API ?? 'http://127.0.0.1:18080'
const proxy = { '/api': { target: api, changeOrigin: false }, '/healthz': { target: api } }

export default defineConfig({
  plugins: [vue()],
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    chunkSizeWarningLimit: 2000,
  },
  server: { port: 5173, strictPort: true, proxy },
  preview: { port: 4173, strictPort: true, proxy },
})
