// The command-centre data screen (/screen) at 1920×1080: loads for the county leader with its live
// connection up; a report filed meanwhile by another account (from Node, with a bearer token) is pushed
// onto the ticker within moments (the measured latency is printed; the test allows 3 s) and today's total
// goes up; English once; a ranking row drills down. BASE_URL and ACCOUNTS as for smoke.mjs.
// Screenshots: test-output/screen-*.png.
import { join } from 'node:path'
import { BASE_URL, passwordOf, outDir, step, check, passedChecks, launch } from './support.mjs'

const problems = []
const browser = await launch()
const origin = new URL(BASE_URL).origin
let failed = false

async function apiAs(token, method, path, body) {
  const r = await fetch(BASE_URL + path, {
    method,
    headers: { Accept: 'application/json', Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`)
  return r.json()
}
async function tokenOf(user) {
  const r = await fetch(BASE_URL + '/api/v1/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ username: user, password: passwordOf(user) }),
  })
  if (!r.ok) throw new Error(`login ${user}: ${r.status}`)
  return (await r.json()).token
}
const shot = async (page, name) => (await page.waitForTimeout(500), page.screenshot({ path: join(outDir, `screen-${name}.png`) }))
const totalOf = (page) => page.$eval('[data-test=screen-today-total]', (e) => Number(e.getAttribute('data-total')))

try {
  const context = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: 'zh-CN' })
  const page = await context.newPage()
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('request', (r) => {
    const u = r.url()
    if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) problems.push(`external request: ${u}`)
  })

  await page.goto(BASE_URL + '/login', { waitUntil: 'networkidle' })
  await page.fill('input[name=username]', 'zhuji-leader')
  await page.fill('input[name=password]', passwordOf('zhuji-leader'))
  await page.click('[data-test=login-submit]')
  await page.waitForSelector('[data-test=nav-screen]', { timeout: 15000 })
  await page.click('[data-test=nav-screen]')
  await page.waitForURL(/\/screen$/, { timeout: 10000 })
  await page.waitForSelector('[data-test=screen][data-state=ready]', { timeout: 20000 })
  step('the leader opens /screen from the desk nav; it loads')
  await page.waitForSelector('[data-test=live-status][data-live=connected]', { timeout: 10000 })
  step('the live indicator says connected')
  check(!(await page.$('.topbar, [data-test=nav]')), 'no desk chrome on the screen')
  const fits = await page.evaluate(() => document.documentElement.scrollHeight <= innerHeight + 1 && document.documentElement.scrollWidth <= innerWidth + 1)
  check(fits, 'the screen fits 1920×1080 without scrolling')
  check((await page.textContent('[data-test=screen-region]'))?.includes('诸暨'), 'it shows 诸暨市')
  const canvases = await page.$$eval('[data-test=screen-map] canvas, [data-test=screen-trend30] canvas, [data-test=screen-gauges] canvas', (c) => c.length)
  check(canvases >= 3, `map, trend and gauges are drawn (${canvases} canvases)`)
  const ranks = await page.$$('[data-test=screen-rank]')
  check(ranks.length > 0 && ranks.length <= 10, `rankings: ${ranks.length} rows (top 10 at most)`)
  const items = await page.$$('[data-test=ticker-item]')
  check(items.length > 0, `ticker starts with ${items.length} matters`)
  const before = await totalOf(page)
  await shot(page, 'loaded')

  // Another account files a report in 诸暨; the screen shows it as pushed.
  const token = await tokenOf('zhuji-operator')
  const sample = await apiAs(token, 'GET', '/api/v1/matters?limit=1')
  const grid = sample.items[0]?.grid_code
  check(grid && grid.startsWith('330681'), `a grid of 诸暨: ${grid}`)
  const sent = Date.now()
  const created = await apiAs(token, 'POST', '/api/v1/matters', { description: '大屏推送测试：路口占道经营', category_code: '0401', grid_code: grid })
  const answered = Date.now()
  const shownAt = await page
    .waitForFunction(
      (id) => (document.querySelector(`[data-test=ticker-item][data-matter-id="${id}"]`) ? Date.now() : 0),
      created.id,
      { polling: 'raf', timeout: 10000 },
    )
    .then((h) => h.jsonValue())
  const latency = shownAt - answered
  console.log(`  push latency: ${latency} ms after the POST's answer (${shownAt - sent} ms after it was sent)`)
  check(latency <= 3000, `matter #${created.id} is on the ticker within 3 s of the POST (${latency} ms)`)
  const first = await page.$eval('[data-test=ticker-item]', (e) => e.getAttribute('data-matter-id'))
  check(Number(first) === created.id, 'it is the first item of the ticker')
  await page.waitForFunction((b) => Number(document.querySelector('[data-test=screen-today-total]')?.getAttribute('data-total')) > b, before, { timeout: 5000 })
  const after = await totalOf(page)
  check(after > before, `today's total went up: ${before} → ${after}`)
  await shot(page, 'pushed')

  // English once.
  await page.click('[data-test=lang-en]')
  await page.waitForFunction(() => document.querySelector('.scr-title')?.textContent?.includes('Command centre'))
  const han = await page.$$eval('.panel h3, .scr-live, .rank th, .legend', (els) => els.map((e) => e.textContent ?? '').filter((s) => /[\u3400-\u9fff]/.test(s)))
  check(han.length === 0, `English headings have no Chinese${han.length ? ': ' + han.join(' | ') : ''}`)
  await shot(page, 'en')
  await page.click('[data-test=lang-zh]')

  // A ranking row drills down to that township.
  const code = await ranks[0].getAttribute('data-code')
  await ranks[0].click()
  await page.waitForURL(new RegExp(`/screen/${code}$`), { timeout: 10000 })
  await page.waitForSelector(`[data-test=screen][data-state=ready][data-region="${code}"]`, { timeout: 20000 })
  step(`a ranking row drills down to ${code}`)
  await shot(page, 'drill')
  await context.close()
} catch (e) {
  failed = true
  console.error('✗', e.message)
} finally {
  await browser.close()
}
if (problems.length) {
  failed = true
  for (const p of problems) console.error('  ', p)
}
console.log(failed ? `SCREEN FAILED (${passedChecks()} checks passed)` : `SCREEN OK (${passedChecks()} checks)`)
process.exit(failed ? 1 : 0)
