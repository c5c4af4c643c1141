// The safety report's pages against the API: the warnings page shows each child region in the overall
// colour the API gives; an admin relaxes a warning threshold in the settings page (after a refused save
// with the server's code, and a conflict when the rules were saved meanwhile) so that a region's colour
// changes, and the warnings page then shows the new colour, as the API does; the rankings page lists the
// regions in the API's order (and highlights the chosen township among its siblings); the indicators
// page shows an indicator's figure as the API does. The rules are put back at the end.
// BASE_URL and ACCOUNTS as for smoke.mjs; screenshots test-output/safety-*.png.
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
const shot = async (page, name) => (await page.waitForTimeout(400), page.screenshot({ path: join(outDir, `safety-${name}.png`), fullPage: true }))
const TODAY = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date())
const PERIOD = `period=month&date=${TODAY}`

/** A signed-in page; console errors fail the test except the refusals the test provokes (`allowed`). */
async function pageAs(user, allowed = []) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  await context.addInitScript(() => localStorage.setItem('pingan.locale', 'zh-CN'))
  const r = await context.request.post(`${BASE_URL}/api/v1/auth/login`, { data: { username: user, password: passwordOf(user) } })
  if (!r.ok()) throw new Error(`${user} cannot sign in: ${r.status()}`)
  const page = await context.newPage()
  page.on('console', (m) => {
    if (m.type() === 'error' && !allowed.some((a) => m.text().includes(a))) problems.push(`console error (${user}): ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`page error (${user}): ${e.message}`))
  page.on('request', (q) => {
    const u = q.url()
    if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) problems.push(`external request: ${u}`)
  })
  return { context, page }
}

/** Every warnings row of the page's table, across its pages: code → overall colour. */
async function shownColours(page) {
  const out = new Map()
  const first = await page.$('[data-test=warn-pager] .number')
  if (first) await first.click()
  for (;;) {
    for (const [code, overall] of await page.$$eval('[data-test=warn-row]', (els) => els.map((e) => [e.dataset.code, e.dataset.overall]))) out.set(code, overall)
    const next = await page.$('[data-test=warn-pager] .btn-next:not([disabled])')
    if (!next) break
    await next.click()
    await page.waitForTimeout(100)
  }
  return out
}
/** The colour the overall tag of a region's row shows (its text and its class), on whatever page it is. */
async function rowTag(page, code) {
  const first = await page.$('[data-test=warn-pager] .number')
  if (first) await first.click()
  for (;;) {
    const tag = await page.$(`.el-table__row:has([data-test=warn-row][data-code="${code}"]) [data-test=warn-overall]`)
    if (tag) return { colour: await tag.getAttribute('data-colour'), text: (await tag.textContent()).trim() }
    const next = await page.$('[data-test=warn-pager] .btn-next:not([disabled])')
    if (!next) return null
    await next.click()
    await page.waitForTimeout(100)
  }
}

const admin = await tokenOf('admin')
const leader = await tokenOf('zhuji-leader')
const originalRules = await apiAs(admin, 'GET', '/api/v1/warning-rules')
try {
  // ---- Warnings: the leader's county, each township's overall colour as the API's -----------------------
  const api = await apiAs(leader, 'GET', `/api/v1/warnings?${PERIOD}`)
  const county = api.parent.code
  check(api.regions.length > 1, `the API colours ${api.regions.length} townships of ${api.parent.name}`)
  {
    const { context, page } = await pageAs('zhuji-leader')
    await page.goto(`${BASE_URL}/inbox`, { waitUntil: 'networkidle' })
    await page.click('[data-test=nav-warnings]')
    await page.waitForSelector('[data-test=warnings][data-state=ready]', { timeout: 20000 })
    step('the leader opens 三色预警 from the menu')
    await page.waitForFunction(() => document.querySelector('[data-test=warn-map] canvas'), null, { timeout: 10000 })
    const shown = await shownColours(page)
    const wrong = api.regions.filter((r) => shown.get(r.code) !== r.overall).map((r) => `${r.name}: ${shown.get(r.code)} ≠ ${r.overall}`)
    check(shown.size === api.regions.length && wrong.length === 0, `the page shows every township (${shown.size}) in the API's overall colour${wrong.length ? ': ' + wrong.join(', ') : ''}`)
    const labels = await page.$$eval('[data-test=warn-ind]', (els) => els.map((e) => e.textContent.trim()))
    check(labels.length > 0 && labels.every((s) => /[绿黄红]$/.test(s)), `per-indicator colours carry their names and a text label (${labels[0]})`)
    const alerts = await page.$$('[data-test=alert-row]')
    const apiAlerts = await apiAs(leader, 'GET', `/api/v1/alerts?under=${county.slice(0, 6)}&limit=10`)
    check(alerts.length === apiAlerts.length, `immediate alerts: ${alerts.length} shown, the API's first page has ${apiAlerts.length}`)
    await shot(page, 'warnings')
    await context.close()
  }

  // ---- An admin relaxes a rule so that one township changes colour ---------------------------------------
  // A township all of whose reasons come from absolute rules of rates where higher is better, each with a
  // value above 1 %: lowering those rules' thresholds below its values takes its warnings away.
  const defs = await apiAs(admin, 'GET', '/api/v1/indicators/definitions')
  const higher = new Set(defs.indicators.filter((d) => d.better === 'higher' && d.is_rate && d.id !== 'average_rating').map((d) => d.id))
  const before = await apiAs(admin, 'GET', `/api/v1/warnings?parent=${county}&${PERIOD}`)
  const pick = before.regions
    .filter((r) => r.reasons.length > 0 && r.reasons.every((x) => x.basis === 'absolute' && higher.has(x.indicator) && x.value > 0.01))
    .sort((a, b) => a.reasons.length - b.reasons.length)[0]
  check(pick, `a township warned by absolute rules only: ${pick?.name} (${pick?.overall}: ${pick?.reasons.map((x) => x.text_zh).join('; ')})`)
  const targets = [...new Set(pick.reasons.map((x) => x.indicator))].map((id) => ({
    id,
    below: Math.max(0, Math.floor(Math.min(...pick.reasons.filter((x) => x.indicator === id).map((x) => x.value)) * 100) - 1),
  }))
  {
    const { context, page } = await pageAs('admin', ['409', '400', 'Conflict', 'Bad Request'])
    await page.goto(`${BASE_URL}/inbox`, { waitUntil: 'networkidle' })
    await page.click('[data-test=nav-safety-settings]')
    await page.waitForSelector('[data-test=safety-settings][data-state=ready]', { timeout: 20000 })
    step('the admin opens 预警设置 from the menu')
    const input = (which, id) => page.locator(`[data-test=rule-${which}][data-rule="${id}:absolute"] input`).first()
    const set = async (which, id, v) => {
      await input(which, id).fill(String(v))
      await input(which, id).press('Tab')
    }
    for (const x of targets) check((await input('yellow', x.id).count()) === 1, `the ${x.id} absolute rule is in the table (yellow at ${await input('yellow', x.id).inputValue()} %)`)
    const { id, below } = targets[0]

    // Refused: red before yellow. The server's code shows.
    await set('yellow', id, below)
    await set('red', id, below + 10)
    await page.click('[data-test=rules-save]')
    await page.waitForSelector('[data-test=save-error]', { timeout: 10000 })
    const err = await page.textContent('[data-test=save-error]')
    check(err.includes('invalid_rules') && err.includes('预警规则无效'), `a refused save shows the server's code and message: ${err.trim().slice(0, 80)}`)

    // Someone saves the rules meanwhile: a conflict.
    const other = await apiAs(admin, 'GET', '/api/v1/warning-rules')
    await apiAs(admin, 'PUT', '/api/v1/warning-rules', other)
    await set('red', id, below)
    await page.click('[data-test=rules-save]')
    await page.waitForSelector('[data-test=save-conflict]', { timeout: 10000 })
    step('saving over a newer version shows the conflict message')
    await shot(page, 'settings-conflict')

    // Reload, change again, save.
    await page.click('[data-test=save-conflict] [data-test=reload]')
    await page.waitForSelector('[data-test=save-conflict]', { state: 'detached', timeout: 10000 })
    for (const x of targets) {
      await set('yellow', x.id, x.below)
      await set('red', x.id, x.below)
    }
    await page.click('[data-test=rules-save]')
    await page.waitForFunction((v) => (document.querySelector('[data-test=rules-version]')?.textContent ?? '').includes(String(v + 2)), other.version ?? 0, { timeout: 10000 })
    const saved = await apiAs(admin, 'GET', '/api/v1/warning-rules')
    for (const x of targets) {
      const r = saved.rules.find((y) => y.indicator === x.id && y.basis === 'absolute')
      check(r && Math.abs(r.yellow - x.below / 100) < 1e-9 && Math.abs(r.red - x.below / 100) < 1e-9, `the API holds ${x.id} absolute at ${r?.yellow}/${r?.red} (version ${saved.version})`)
    }
    await shot(page, 'settings-saved')

    const after = await apiAs(admin, 'GET', `/api/v1/warnings?parent=${county}&${PERIOD}`)
    const now = after.regions.find((x) => x.code === pick.code)
    check(now.overall !== pick.overall, `the API now colours ${pick.name} ${now.overall} (was ${pick.overall})`)
    await page.goto(`${BASE_URL}/warnings?parent=${county}&${PERIOD}`, { waitUntil: 'networkidle' })
    await page.waitForSelector('[data-test=warnings][data-state=ready]', { timeout: 20000 })
    const tag = await rowTag(page, pick.code)
    const names = { green: '绿色', yellow: '黄色', red: '红色' }
    check(tag?.colour === now.overall && tag.text.includes(names[now.overall]), `the warnings page shows ${pick.name} as ${tag?.text} (${tag?.colour})`)
    const shown = await shownColours(page)
    const wrong = after.regions.filter((x) => shown.get(x.code) !== x.overall)
    check(wrong.length === 0, 'and every other township as the API does')
    await shot(page, 'warnings-after')
    await context.close()
  }

  // ---- Rankings: the API's order; a township highlighted among its siblings ------------------------------
  {
    const { context, page } = await pageAs('zhuji-leader')
    for (const indicator of ['composite', 'closure_rate']) {
      const ranking = await apiAs(leader, 'GET', `/api/v1/rankings?parent=${county}&indicator=${indicator}&${PERIOD}`)
      await page.goto(`${BASE_URL}/rankings?indicator=${indicator}&${PERIOD}`, { waitUntil: 'networkidle' })
      await page.waitForSelector('[data-test=rankings][data-state=ready]', { timeout: 20000 })
      const codes = []
      for (;;) {
        codes.push(...(await page.$$eval('[data-test=rank-row]', (els) => els.map((e) => e.dataset.code))))
        const next = await page.$('[data-test=rank-pager] .btn-next:not([disabled])')
        if (!next) break
        await next.click()
        await page.waitForTimeout(100)
      }
      const want = ranking.regions.map((r) => r.code)
      check(JSON.stringify(codes) === JSON.stringify(want), `rankings by ${indicator}: the page lists the ${codes.length} townships in the API's order`)
    }
    await shot(page, 'rankings')
    await context.close()
  }
  {
    const { context, page } = await pageAs('admin')
    const ranking = await apiAs(admin, 'GET', `/api/v1/rankings?parent=${county}&${PERIOD}`)
    const mid = ranking.regions[Math.floor(ranking.regions.length / 2)]
    await page.goto(`${BASE_URL}/rankings?region=${mid.code}&${PERIOD}`, { waitUntil: 'networkidle' })
    await page.waitForSelector('[data-test=rankings][data-state=ready]', { timeout: 20000 })
    const parent = await page.getAttribute('[data-test=rank-parent]', 'data-code')
    const yours = await page.$$eval('[data-test=rank-row][data-yours]', (els) => els.map((e) => e.dataset.code))
    check(parent === county && yours.length === 1 && yours[0] === mid.code, `a township (${mid.name}) is ranked among the townships of its county, highlighted`)
    await shot(page, 'rankings-township')
    await context.close()
  }

  // ---- Indicators: a figure as the API's -----------------------------------------------------------------
  {
    const report = await apiAs(leader, 'GET', `/api/v1/indicators?${PERIOD}`)
    const { context, page } = await pageAs('zhuji-leader')
    await page.goto(`${BASE_URL}/indicators?${PERIOD}&breakdown=day`, { waitUntil: 'networkidle' })
    await page.waitForSelector('[data-test=indicators][data-state=ready]', { timeout: 20000 })
    for (const id of ['received', 'closure_rate', 'on_time_rate']) {
      const v = report.indicators.find((x) => x.id === id)
      const want = v.value === null ? '—' : v.percent !== null && v.percent !== undefined ? `${v.percent.toFixed(2)}%` : String(v.value)
      const got = (await page.textContent(`[data-test=ind-row][data-id=${id}] [data-test=ind-value]`)).trim()
      check(got === want, `${id}: the page shows ${got}, the API ${want}`)
    }
    const help = page.locator('[data-test=ind-row][data-id=closure_rate] [data-test=ind-help]')
    await help.focus()
    await page.waitForSelector('[data-test=ind-def]', { state: 'visible', timeout: 5000 })
    const def = await page.textContent('[data-test=ind-def]')
    check(def.includes('分母') && def.includes('应结案数'), `the closure rate's definition shows on focus: ${def.trim()}`)
    check(await page.$('[data-test=ind-trend] canvas'), 'the daily trend is drawn')
    await shot(page, 'indicators')
    await context.close()
  }
} catch (e) {
  failed = true
  console.error('✗', e.message)
} finally {
  // The rules as they were.
  try {
    const now = await apiAs(admin, 'GET', '/api/v1/warning-rules')
    await apiAs(admin, 'PUT', '/api/v1/warning-rules', { version: now.version, rules: originalRules.rules })
  } catch (e) {
    problems.push(`could not put the rules back: ${e.message}`)
  }
  await browser.close()
}
if (problems.length) {
  failed = true
  for (const p of problems) console.error('  ', p)
}
console.log(failed ? `SAFETY FAILED (${passedChecks()} checks passed)` : `SAFETY OK (${passedChecks()} checks)`)
process.exit(failed ? 1 : 0)
