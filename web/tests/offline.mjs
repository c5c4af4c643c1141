// Offline test of the grid worker's phone app (/m) in a headless Chromium at phone size (390×844).
// BASE_URL: where the app is served (Vite preview proxying /api, or the pingan server).
// ACCOUNTS: the demo-accounts.txt file (username<TAB>password<TAB>role<TAB>scope).
// A report made offline (with a photo) stays queued across a reload, is sent once when back online, and
// resending the same queue item (same idempotency key) does not file it twice.
import { BASE_URL, account, outDir, step, check, passedChecks, launch } from './support.mjs'
import { join } from 'node:path'

const USER = process.env.OFFLINE_USER ?? 'gridworker'
const [, password, , scope] = account(USER)

// A valid 1×1 PNG (one red pixel).
const PNG_1x1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
)

const problems = []
const browser = await launch()
const context = await browser.newContext({
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
})
const page = await context.newPage()
let offline = false
page.on('console', (m) => {
  if (m.type() !== 'error') return
  const text = m.text()
  // Requests that fail while the browser is offline are expected (and only then).
  if (offline && /net::ERR_INTERNET_DISCONNECTED/.test(text)) return
  problems.push(`console error: ${text}`)
})
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
const origin = new URL(BASE_URL).origin
page.on('request', (r) => {
  const u = r.url()
  if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) problems.push(`external request: ${u}`)
})
const shot = (name) => page.screenshot({ path: join(outDir, `m-${name}.png`), fullPage: true })
const syncText = async () => (await page.textContent('[data-test=sync-state]'))?.trim() ?? ''
async function setOffline(v) {
  offline = v || offline // keep filtering the failures of requests made while offline that settle just after
  await context.setOffline(v)
}
async function countMatters(description) {
  return page.evaluate(async (d) => {
    const r = await fetch('/api/v1/matters?limit=50', { credentials: 'same-origin' })
    if (!r.ok) throw new Error('matters: ' + r.status)
    const j = await r.json()
    return j.items.filter((m) => m.description === d).length
  }, description)
}

let failed = false
try {
  // Sign in: a grid worker lands on the phone app.
  await page.goto(BASE_URL + '/login', { waitUntil: 'networkidle' })
  await page.fill('input[name=username]', USER)
  await page.fill('input[name=password]', password)
  await page.click('[data-test=login-submit]')
  await page.waitForURL(/\/m$/, { timeout: 15000 })
  step('grid worker lands on /m after signing in')
  await page.waitForFunction(
    (code) => document.querySelector('[data-test=grid-code]')?.textContent?.trim() === code,
    scope,
    { timeout: 10000 },
  )
  await page.waitForFunction(() => /网格/.test(document.querySelector('.grid-name')?.textContent ?? ''), null, { timeout: 10000 })
  check(true, `my grid shows ${scope}: ${(await page.textContent('.grid-name'))?.trim()}`)
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.includes('已同步'), null, { timeout: 10000 })
  step(`header shows the sync state: ${await syncText()}`)
  await shot('01-my-grid')

  // The service worker (production build) takes control, so the app opens offline after a reload.
  const sw = await page.evaluate(async () => {
    if (!('serviceWorker' in navigator)) return 'unsupported'
    await navigator.serviceWorker.ready
    for (let i = 0; i < 50 && !navigator.serviceWorker.controller; i++) await new Promise((r) => setTimeout(r, 100))
    return navigator.serviceWorker.controller ? 'controlling' : 'not controlling'
  })
  check(sw === 'controlling', `service worker: ${sw}`)

  // The report form, then offline.
  await page.click('[data-test=go-report]')
  await page.waitForURL(/\/m\/report$/)
  await page.waitForSelector('[data-test^=cat-]', { timeout: 10000 })
  // Let the service worker finish caching the build before the network goes.
  await page.evaluate(async () => {
    const want = await (await fetch('/asset-list.json')).json()
    for (let i = 0; i < 100; i++) {
      const c = await caches.open('pingan-shell-v1')
      const have = (await c.keys()).map((r) => new URL(r.url).pathname)
      if (want.every((p) => have.includes(p))) return
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error('the service worker did not cache the build')
  })
  step('app shell cached by the service worker')

  await setOffline(true)
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.includes('离线'), null, { timeout: 5000 })
  step(`offline shown: ${await syncText()}`)

  const description = `离线测试上报 ${Date.now()}`
  await page.click('[data-test=cat-0101]')
  await page.setInputFiles('[data-test=photo-input]', { name: 'scene.png', mimeType: 'image/png', buffer: PNG_1x1 })
  await page.waitForSelector('[data-test=photo-preview]')
  await page.click('[data-test=where-grid]')
  await page.fill('textarea[data-test=description], [data-test=description] textarea', description)
  await shot('02-report-form-offline')
  await page.click('[data-test=report-submit]')
  await page.waitForSelector('[data-test=report-result]', { timeout: 10000 })
  check((await page.textContent('[data-test=report-result]')).includes('联网后自动发送'), 'offline report is saved on the phone')
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.includes('1 条待发送'), null, { timeout: 5000 })
  step(`header: ${await syncText()}`)
  check((await page.$$('[data-test=queue-item]')).length === 1, 'one item in the queue list')
  await shot('03-queued-offline')

  // Reload while offline: the service worker serves the app, IndexedDB still has the item.
  await page.reload({ waitUntil: 'domcontentloaded' })
  await page.waitForSelector('[data-test=sync-state]', { timeout: 15000 })
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.includes('1 条待发送'), null, { timeout: 10000 })
  await page.waitForSelector('[data-test=queue-item]', { timeout: 5000 })
  check((await page.textContent('[data-test=queue-item]')).includes(description), `after an offline reload the item is still queued: ${await syncText()}`)
  // Keep a copy of the queued item (with its photo bytes and idempotency key) to resend later.
  const key = await page.evaluate(async () => {
    const o = window.pinganOffline
    const items = await o.idb.all(o.STORES.queue)
    window.__savedItem = items[0]
    return items[0].id
  })
  check(/^[0-9a-f-]{36}$/.test(key), `queued with idempotency key ${key}`)
  await shot('04-reloaded-offline')

  // Back online: the sender drains the queue (on the `online` event).
  await setOffline(false)
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.trim() === '已同步', null, { timeout: 20000 })
  step(`back online: ${await syncText()}`)
  check((await page.$$('[data-test=queue-item]')).length === 0, 'queue list is empty')
  const n1 = await countMatters(description)
  check(n1 === 1, `the report arrived exactly once (${n1})`)
  await shot('05-synced')

  // Resend the same queue item (same idempotency key, photo uploaded again): still one matter.
  await page.evaluate(async () => {
    const o = window.pinganOffline
    const item = window.__savedItem
    delete item.photos[0].sha256
    await o.putItem(item)
    await o.drain()
    await o.drain()
  })
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.trim() === '已同步', null, { timeout: 10000 })
  const n2 = await countMatters(description)
  check(n2 === 1, `resending the same item files nothing new (${n2})`)

  // A report the server refuses (unknown category) stays in the queue with the server's message until discarded.
  const before4xx = problems.length
  await page.evaluate(async (grid) => {
    const o = window.pinganOffline
    await o.queueReport({ description: '类别无效的上报', category_code: '0000', grid_code: grid }, [])
    await o.drain()
  }, scope)
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.includes('1 条发送失败'), null, { timeout: 10000 })
  await page.waitForSelector('[data-test=queue-error]', { timeout: 5000 })
  step(`refused report kept: ${(await page.textContent('[data-test=queue-error]')).trim()}`)
  problems.splice(before4xx, problems.length - before4xx,
    ...problems.slice(before4xx).filter((p) => !/status of 4\d\d/.test(p)))
  await shot('05b-refused')
  await page.click('[data-test=queue-discard]')
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.trim() === '已同步', null, { timeout: 5000 })
  step('discarding it empties the queue')

  // The matter is in "my tasks" with its photo; its page shows the state and timeline.
  await page.click('[data-test=m-nav-tasks]')
  await page.waitForURL(/\/m\/tasks$/)
  const link = page.locator('[data-test=m-matter-link]', { hasText: description })
  await link.first().waitFor({ timeout: 10000 })
  await link.first().click()
  await page.waitForURL(/\/m\/matters\/\d+$/)
  await page.waitForSelector('[data-test=m-timeline] .entry', { timeout: 10000 })
  check((await page.textContent('[data-test=m-matter]')).includes(description), 'mobile matter page shows the report')
  await shot('06-matter')

  // Self-resolve it offline with a result photo: queued like a report, sent once when back online.
  const matterId = Number(page.url().match(/(\d+)$/)[1])
  await page.waitForSelector('[data-test=m-action-self_resolve]', { timeout: 5000 })
  await setOffline(true)
  await page.click('[data-test=m-action-self_resolve]')
  await page.setInputFiles('[data-test=m-result-photo]', { name: 'done.png', mimeType: 'image/png', buffer: PNG_1x1 })
  await page.click('[data-test=m-action-send]')
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.includes('1 条待发送'), null, { timeout: 5000 })
  step(`self_resolve queued offline: ${await syncText()}`)
  const actionItem = await page.evaluate(async () => {
    const o = window.pinganOffline
    const items = await o.idb.all(o.STORES.queue)
    window.__savedAction = items[0]
    return { kind: items[0].kind, action: items[0].body.action, photos: items[0].photos.length }
  })
  check(actionItem.kind === 'action' && actionItem.action === 'self_resolve' && actionItem.photos === 1, 'the action is in the queue with its photo')
  await setOffline(false)
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.trim() === '已同步', null, { timeout: 20000 })
  const after = await page.evaluate(async (id) => (await (await fetch(`/api/v1/matters/${id}`)).json()).state, matterId)
  check(after !== 'reported', `self_resolve sent when back online: state ${after}`)
  await page.waitForFunction(() => !document.querySelector('[data-test=m-action-self_resolve]'), null, { timeout: 10000 })
  step('matter page reloads after the sync (self_resolve no longer offered)')
  // Resending the applied action is refused with 409 (stale version) and dropped, not shown as an error.
  // The browser logs that 409 as a failed resource: expected here, and only here.
  const before409 = problems.length
  await page.evaluate(async () => {
    const o = window.pinganOffline
    await o.putItem(window.__savedAction)
    await o.drain()
  })
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.trim() === '已同步', null, { timeout: 10000 })
  problems.splice(before409, problems.length - before409,
    ...problems.slice(before409).filter((p) => !/status of 409 \(Conflict\)/.test(p)))
  const after2 = await page.evaluate(async (id) => (await (await fetch(`/api/v1/matters/${id}`)).json()).state, matterId)
  check(after2 === after, 'resending the applied action changes nothing and leaves the queue empty')
  await shot('07-self-resolved')

  // Patrol: start, note, end (kept locally, no location; its upload is tested in patrol.mjs).
  await page.click('[data-test=m-nav-patrol]')
  await page.click('[data-test=patrol-start]')
  await page.fill('textarea[data-test=patrol-note], [data-test=patrol-note] textarea', '路灯不亮')
  await page.click('[data-test=patrol-add]')
  await page.click('[data-test=patrol-end]')
  await page.waitForSelector('details.hist')
  const patrol = await page.evaluate(async () => {
    const o = window.pinganOffline
    return o.idb.all(o.STORES.patrol)
  })
  check(
    patrol.length === 1 && patrol[0].notes.length === 1 && patrol[0].ended_at &&
      Object.keys(patrol[0]).every((k) => ['id', 'started_at', 'ended_at', 'notes', 'synced_at', 'server_id'].includes(k)),
    'patrol kept locally with times and notes only (and whether it was uploaded)',
  )
  await shot('08-patrol')
} catch (e) {
  failed = true
  console.error('✗', e.message)
  await shot('99-failure').catch(() => undefined)
} finally {
  await browser.close()
}

if (problems.length) {
  failed = true
  console.error('✗ console/page problems:')
  for (const p of problems) console.error('  ', p)
}
console.log(failed ? `OFFLINE TEST FAILED (${passedChecks()} checks passed)` : `OFFLINE TEST OK (${passedChecks()} checks)`)
process.exit(failed ? 1 : 0)
