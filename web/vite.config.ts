import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import type { Plugin } from 'vite'

// Lists every built file under /assets/ in dist/asset-list.json, which public/sw.js caches at install
// so the phone app opens offline even on routes not visited yet.
function assetList(): Plugin {
  return {
    name: 'pingan-asset-list',
    apply: 'build',
    generateBundle(_options, bundle) {
      const files = Object.keys(bundle).filter((f) => f.startsWith('assets/')).sort().map((f) => '/' + f)
      this.emitFile({ type: 'asset', fileName: 'asset-list.json', source: JSON.stringify(files, null, 1) })
    },
  }
}

// The API server during development; in production the Rust server serves dist/ at the same origin.
const api = process.env.PINGAN_API ?? 'http://127.0.0.1:18080'
const proxy = { '/api': { target: api, changeOrigin: false }, '/healthz': { target: api } }

export default defineConfig({
  plugins: [vue(), assetList()],
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
