// Pingan service worker: keeps the app shell so the grid worker's phone app opens offline.
// - index.html (every navigation): network first, the cached copy when offline.
// - /assets/* (hashed, immutable): cache first; the whole build is fetched at install from /asset-list.json.
// - /api/ is never cached (reports and actions go through the app's own IndexedDB queue).
const CACHE = 'pingan-shell-v1'
const SHELL = ['/', '/manifest.webmanifest', '/icon.svg', '/icon-192.png']

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE)
      await cache.addAll(SHELL).catch(() => undefined)
      try {
        const res = await fetch('/asset-list.json', { cache: 'no-store' })
        if (res.ok) {
          const list = await res.json()
          await cache.addAll(list.filter((p) => typeof p === 'string' && p.startsWith('/assets/')))
        }
      } catch (e) {
        // Assets are cached as they are fetched instead.
      }
      await self.skipWaiting()
    })(),
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key)
      await self.clients.claim()
    })(),
  )
})

self.addEventListener('fetch', (event) => {
  const req = event.request
  if (req.method !== 'GET') return
  const url = new URL(req.url)
  if (url.origin !== self.location.origin) return
  if (url.pathname.startsWith('/api/') || url.pathname === '/healthz') return

  if (req.mode === 'navigate') {
    event.respondWith(
      (async () => {
        const cache = await caches.open(CACHE)
        try {
          const res = await fetch(req)
          if (res.ok) await cache.put('/', res.clone())
          return res
        } catch (e) {
          const hit = await cache.match('/', { ignoreVary: true })
          if (hit) return hit
          throw e
        }
      })(),
    )
    return
  }

  if (url.pathname.startsWith('/assets/') || SHELL.includes(url.pathname)) {
    event.respondWith(
      (async () => {
        const cache = await caches.open(CACHE)
        const hit = await cache.match(url.pathname, { ignoreVary: true, ignoreSearch: true })
        if (hit) return hit
        const res = await fetch(req)
        if (res.ok) await cache.put(req, res.clone())
        return res
      })(),
    )
  }
})
