// Patrols (巡查): the grid worker's phone records one, partly offline, and uploads it once; the
// command centre lists it within scope.
// 1. As `gridworker` at phone size (390×844): start a patrol, add two notes, go offline, add a third,
//    end it, reload offline (the patrol and its queued upload survive), come back online: it is
//    uploaded, and the server holds exactly one patrol with those three notes, even after the same
//    queue item (same idempotency key) is sent again.
// 2. As `operator1` (its township) on a desktop: /patrols lists it; the row opens to its three notes
//    with their times in China time; the code filter narrows the list, refuses a bad code and shows
//    an error for an area out of scope.
// 3. As `operator2` (another township): the patrol is not listed.
// BASE_URL and ACCOUNTS as for smoke.mjs. Screenshots: test-output/patrol-*.png.
import { join } from 'node:path'
import { BASE_URL, account, passwordOf, outDir, step, check, passedChecks, launch } from './support.mjs'

const USER = 'gridworker'
const [, password, , scope] = account(USER)
const DESK_IN = 'operator1'
const DESK_OUT = 'operator2'

const problems = []
/** Console errors that are expected for a while (requests failing offline, a refused filter). */
let expected = []
function watch(page, who) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return
    const text = m.text()
    if (expected.some((re) => re.test(text))) return
    problems.push(`${who} console error: ${text}`)
  })
  page.on('pageerror', (e) => problems.push(`${who} page error: ${e.message}`))
}

/** The time as the app shows it in Chinese (format.ts): `2026年11月23日 14:05`, China time. */
function zhTime(ms) {
  const f = new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false,
  })
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]))
  return `${p.year}年${p.month}月${p.day}日 ${p.hour === '24' ? '00' : p.hour}:${p.minute}`
}

const stamp = Date.now()
const NOTES = [`巡查测试 ${stamp} 一：路灯不亮`, `巡查测试 ${stamp} 二：井盖松动`, `巡查测试 ${stamp} 三：离线时记下的`]

const browser = await launch()
let failed = false
try {
  // ---- The phone ------------------------------------------------------------------------------------
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' })
  const page = await phone.newPage()
  watch(page, 'phone')
  const shot = (name) => page.screenshot({ path: join(outDir, `patrol-${name}.png`), fullPage: true })
  const syncText = async () => (await page.textContent('[data-test=sync-state]'))?.trim() ?? ''
  const waitSync = (s, timeout = 10000) =>
    page.waitForFunction((s) => document.querySelector('[data-test=sync-state]')?.textContent?.includes(s), s, { timeout })
  async function setOffline(v) {
    // While offline and just after, requests fail with ERR_INTERNET_DISCONNECTED: expected then.
    if (v) expected = [/net::ERR_INTERNET_DISCONNECTED/]
    await phone.setOffline(v)
  }
  /** Patrols on the server (as this page's account) whose notes are ours. */
  const serverPatrols = () =>
    page.evaluate(async (marker) => {
      const me = await (await fetch('/api/v1/me')).json()
      const r = await fetch('/api/v1/patrols?limit=200')
      if (!r.ok) throw new Error('patrols: ' + r.status)
      const j = await r.json()
      return j.items.filter((p) => p.account_id === me.id && p.notes.some((n) => n.text.includes(marker)))
    }, String(stamp))

  await page.goto(BASE_URL + '/login', { waitUntil: 'networkidle' })
  await page.fill('input[name=username]', USER)
  await page.fill('input[name=password]', password)
  await page.click('[data-test=login-submit]')
  await page.waitForURL(/\/m$/, { timeout: 15000 })
  await waitSync('已同步')
  step(`${USER} signed in on the phone: ${await syncText()}`)

  // The app shell must be cached to reload offline.
  const sw = await page.evaluate(async () => {
    if (!('serviceWorker' in navigator)) return 'unsupported'
    await navigator.serviceWorker.ready
    for (let i = 0; i < 50 && !navigator.serviceWorker.controller; i++) await new Promise((r) => setTimeout(r, 100))
    if (!navigator.serviceWorker.controller) return 'not controlling'
    const want = await (await fetch('/asset-list.json')).json()
    for (let i = 0; i < 100; i++) {
      const c = await caches.open('pingan-shell-v1')
      const have = (await c.keys()).map((r) => new URL(r.url).pathname)
      if (want.every((p) => have.includes(p))) return 'cached'
      await new Promise((r) => setTimeout(r, 100))
    }
    return 'not cached'
  })
  check(sw === 'cached', `service worker controls the page and cached the build: ${sw}`)

  await page.click('[data-test=m-nav-patrol]')
  await page.waitForURL(/\/m\/patrol$/)
  await page.click('[data-test=patrol-start]')
  const note = 'textarea[data-test=patrol-note], [data-test=patrol-note] textarea'
  for (const text of NOTES.slice(0, 2)) {
    await page.fill(note, text)
    await page.click('[data-test=patrol-add]')
  }
  await page.waitForFunction(() => document.querySelectorAll('[data-test=patrol-current-note]').length === 2)
  step('patrol started with two notes')
  await shot('01-started')

  await setOffline(true)
  await waitSync('离线', 5000)
  await page.fill(note, NOTES[2])
  await page.click('[data-test=patrol-add]')
  await page.waitForFunction(() => document.querySelectorAll('[data-test=patrol-current-note]').length === 3)
  await page.click('[data-test=patrol-end]')
  await page.waitForSelector('[data-test=patrol-item][data-sync=pending]', { timeout: 5000 })
  await waitSync('1 条待发送', 5000)
  check((await page.textContent('[data-test=patrol-item] [data-test=patrol-sync]')).trim() === '待上传', `ended offline: 待上传, header: ${await syncText()}`)
  await page.click('[data-test=patrol-item] summary')
  await shot('02-ended-offline')

  // Reload while offline: the service worker serves the app; IndexedDB keeps the patrol and its upload.
  await page.reload({ waitUntil: 'domcontentloaded' })
  await page.waitForSelector('[data-test=patrol-item][data-sync=pending]', { timeout: 15000 })
  await waitSync('1 条待发送', 10000)
  const local = await page.evaluate(async () => {
    const o = window.pinganOffline
    return { patrols: await o.idb.all(o.STORES.patrol), queue: await o.idb.all(o.STORES.queue) }
  })
  const mine = local.patrols.find((p) => p.notes.some((n) => n.text === NOTES[0]))
  const item = local.queue.find((i) => i.id === mine?.id)
  check(mine && mine.ended_at && mine.notes.length === 3 && !mine.synced_at, 'after an offline reload the patrol is kept on the phone, not yet uploaded')
  check(item?.kind === 'patrol' && /^[0-9a-f-]{36}$/.test(item.id) && item.body.notes.length === 3 && !('grid_code' in item.body),
    `its upload is queued: kind patrol, idempotency key = the patrol's id ${item?.id}`)
  check(mine.notes.every((n) => n.at >= mine.started_at && n.at <= mine.ended_at), 'every note lies within the patrol')
  await shot('03-reloaded-offline')

  // Back online: the sender uploads it (on the `online` event).
  await setOffline(false)
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.trim() === '已同步', null, { timeout: 20000 })
  await page.waitForSelector('[data-test=patrol-item][data-sync=synced]', { timeout: 10000 })
  check((await page.textContent('[data-test=patrol-item] [data-test=patrol-sync]')).trim() === '已上传', `back online: uploaded (已上传), header: ${await syncText()}`)
  const kept = await page.evaluate(async (id) => {
    const o = window.pinganOffline
    return o.idb.get(o.STORES.patrol, id)
  }, mine.id)
  check(kept?.synced_at > 0 && kept.server_id > 0 && kept.notes.length === 3, `the local copy stays, marked sent (server id ${kept?.server_id})`)
  expected = []
  let found = await serverPatrols()
  check(found.length === 1, `exactly one patrol on the server (${found.length})`)
  const server = found[0]
  check(JSON.stringify(server.notes.map((n) => n.text)) === JSON.stringify(NOTES), 'with the three notes in order')
  check(server.grid_code === scope && server.started_at === mine.started_at && server.ended_at === mine.ended_at &&
    server.notes.every((n, i) => n.at === mine.notes[i].at), `in the worker's grid ${scope}, with the phone's times`)
  await page.click('[data-test=patrol-item] summary')
  await shot('04-synced')

  // Resend the same queue item (same idempotency key): still one.
  await page.evaluate(async (it) => {
    const o = window.pinganOffline
    await o.putItem(it)
    await o.drain()
    await o.drain()
  }, item)
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.trim() === '已同步', null, { timeout: 10000 })
  found = await serverPatrols()
  check(found.length === 1 && found[0].id === server.id, `resending the same item stores nothing new (${found.length})`)

  // A patrol the server refuses (older than 30 days) stays queued with the server's word, shown on the patrol;
  // "keep on phone only" takes it out of the queue and leaves it here, not uploaded.
  expected = [/status of 400/]
  const oldId = await page.evaluate(async () => {
    const o = window.pinganOffline
    const old = Date.now() - 40 * 86400000
    const p = { id: crypto.randomUUID(), started_at: old, ended_at: old + 600000, notes: [{ at: old + 60000, text: '很久以前的巡查' }] }
    await o.idb.put(o.STORES.patrol, p)
    await o.queuePatrol(p)
    await o.drain()
    return p.id
  })
  await page.reload({ waitUntil: 'networkidle' })
  const old = `[data-test=patrol-item][data-id="${oldId}"]`
  await page.waitForSelector(`${old}[data-sync=failed]`, { timeout: 10000 })
  await waitSync('1 条发送失败')
  await page.click(`${old} summary`)
  step(`a refused patrol keeps its error: ${(await page.textContent(`${old} [data-test=patrol-error-msg]`)).trim()}; header: ${await syncText()}`)
  await shot('04b-refused')
  await page.click(`${old} [data-test=patrol-discard]`)
  await page.waitForSelector(`${old}[data-sync=local] [data-test=patrol-upload]`, { timeout: 5000 })
  await page.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.trim() === '已同步', null, { timeout: 5000 })
  step('kept on the phone only: out of the queue, marked 未上传 with an upload button')
  await page.evaluate(async (id) => window.pinganOffline.idb.del(window.pinganOffline.STORES.patrol, id), oldId)
  expected = []
  await phone.close()

  // ---- The command centre ---------------------------------------------------------------------------
  async function desk(user) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
    await context.addInitScript(() => localStorage.setItem('pingan.locale', 'zh-CN'))
    const r = await context.request.post(`${BASE_URL}/api/v1/auth/login`, { data: { username: user, password: passwordOf(user) } })
    if (!r.ok()) throw new Error(`${user} cannot sign in: ${r.status()}`)
    const p = await context.newPage()
    watch(p, user)
    await p.goto(BASE_URL + '/inbox', { waitUntil: 'networkidle' })
    await p.click('[data-test=nav-patrols]')
    await p.waitForURL(/\/patrols/)
    await p.waitForSelector('[data-test=patrols][data-state=ready]', { timeout: 15000 })
    return { context, page: p }
  }
  const row = `[data-test=patrol-row][data-id="${server.id}"]`
  const UNDER = 'input[data-test=patrols-under], [data-test=patrols-under] input'

  const inside = await desk(DESK_IN)
  const dp = inside.page
  // Newest first: ours is on the first pages; load more until it shows.
  for (let i = 0; i < 20 && !(await dp.$(row)); i++) {
    if (!(await dp.$('[data-test=patrols-more]'))) break
    await dp.click('[data-test=patrols-more]')
    await dp.waitForSelector('[data-test=patrols-more] .is-loading', { state: 'detached' }).catch(() => undefined)
  }
  check(!!(await dp.$(row)), `${DESK_IN}: /patrols lists the patrol #${server.id}`)
  const tr = dp.locator('tr', { has: dp.locator(row) })
  const cells = (await tr.locator('td').allTextContents()).map((s) => s.trim())
  check(cells.includes(scope) && cells.includes(zhTime(server.started_at)) && cells.includes(zhTime(server.ended_at)) && cells.includes('3'),
    `its row: ${cells.filter(Boolean).join(' | ')}`)
  await dp.screenshot({ path: join(outDir, 'patrol-05-desk-list.png'), fullPage: true })
  await dp.click(row)
  const notes = dp.locator(`[data-test=patrol-notes][data-id="${server.id}"] [data-test=patrol-note-item]`)
  await notes.first().waitFor({ timeout: 5000 })
  const shown = await notes.evaluateAll((els) => els.map((e) => [...e.children].map((c) => c.textContent.trim()).join(' ')))
  const want = server.notes.map((n) => `${zhTime(n.at)} ${n.text}`)
  check(JSON.stringify(shown) === JSON.stringify(want), `opened, it shows the three notes with their China times: ${shown.join(' / ')}`)
  await dp.screenshot({ path: join(outDir, 'patrol-06-desk-expanded.png'), fullPage: true })

  // The filter: the grid's code keeps it; a bad code is refused by the form; an area out of scope is an error.
  await dp.fill(UNDER, scope)
  await dp.click('[data-test=patrols-search]')
  await dp.waitForURL(new RegExp(`under=${scope}`))
  await dp.waitForSelector(`[data-test=patrols][data-state=ready] ${row}`, { timeout: 10000 })
  step(`filtered under ${scope}: still listed`)
  await dp.fill(UNDER, '33x')
  await dp.click('[data-test=patrols-search]')
  await dp.waitForSelector('.el-form-item__error', { timeout: 5000 })
  step(`a code that is no code is refused: ${(await dp.textContent('.el-form-item__error')).trim()}`)
  expected = [/status of 403/]
  await dp.fill(UNDER, '330102003')
  await dp.click('[data-test=patrols-search]')
  await dp.waitForSelector('[data-test=patrols][data-state=error] [data-test=patrols-error]', { timeout: 10000 })
  step(`an area out of scope shows an error: ${(await dp.textContent('[data-test=patrols-error] .el-alert__title')).trim()}`)
  await dp.screenshot({ path: join(outDir, 'patrol-07-desk-error.png'), fullPage: true })
  expected = []
  await inside.context.close()

  const outside = await desk(DESK_OUT)
  const op = outside.page
  const listed = await op.evaluate(async (id) => (await (await fetch('/api/v1/patrols?limit=200')).json()).items.some((p) => p.id === id), server.id)
  check(!listed && !(await op.$(row)), `${DESK_OUT} (another township): the patrol is not listed`)
  expected = [/status of 404/, /status of 403/]
  const direct = await op.evaluate(async (id) => (await fetch(`/api/v1/patrols/${id}`)).status, server.id)
  await op.waitForTimeout(200)
  check(direct === 404 || direct === 403, `${DESK_OUT}: fetching it by id is refused (${direct})`)
  expected = []
  if (!(await op.$('[data-test=patrol-row]'))) check(!!(await op.$('[data-test=patrols-empty]')), `${DESK_OUT}: an empty list says so`)
  await op.screenshot({ path: join(outDir, 'patrol-08-desk-other-township.png'), fullPage: true })
  await outside.context.close()
} catch (e) {
  failed = true
  console.error('✗', e.message)
} finally {
  await browser.close()
}
if (problems.length) {
  failed = true
  console.error('✗ console/page problems:')
  for (const p of problems) console.error('  ', p)
}
console.log(failed ? `PATROL TEST FAILED (${passedChecks()} checks passed)` : `PATROL TEST OK (${passedChecks()} checks)`)
process.exit(failed ? 1 : 0)
