// The overview pages in a headless Chromium: the leader's dashboard, the drill-down map
// (county → township → village → grid), the overdue and escalation board, and merging a
// possible duplicate from a matter's page. Figures are checked against what the API answers
// for the same request, fetched from the page. BASE_URL and ACCOUNTS as for smoke.mjs.
import { join } from 'node:path'
import { BASE_URL, passwordOf, outDir, step, check, passedChecks, launch } from './support.mjs'

const problems = []
const browser = await launch()
const origin = new URL(BASE_URL).origin

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const page = await context.newPage()
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('request', (r) => {
    const u = r.url()
    if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) problems.push(`external request: ${u}`)
  })
  return page
}

async function login(page, user, landing) {
  await page.goto(BASE_URL + '/login', { waitUntil: 'networkidle' })
  await page.fill('input[name=username]', user)
  await page.fill('input[name=password]', passwordOf(user))
  await page.click('[data-test=login-submit]')
  await page.waitForURL(landing, { timeout: 15000 })
}

/** The API's answer to a request made from the page (its session cookie). */
async function apiGet(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { headers: { Accept: 'application/json' } })
    if (!r.ok) throw new Error(`${p}: ${r.status} ${await r.text()}`)
    return r.json()
  }, path)
}
async function apiPost(page, path, body) {
  return page.evaluate(
    async ([p, b]) => {
      const r = await fetch(p, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(b) })
      if (!r.ok) throw new Error(`${p}: ${r.status} ${await r.text()}`)
      return r.json()
    },
    [path, body],
  )
}

const shot = async (page, name) => (await page.waitForTimeout(400), page.screenshot({ path: join(outDir, `overview-${name}.png`), fullPage: true }))
const text = async (page, sel) => (await page.textContent(sel))?.trim()
const pct = (r) => (r === null || r === undefined ? '—' : `${(r * 100).toFixed(1)}%`)
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b)

/** Switches the page to English, screenshots it, checks a text shows, and switches back. */
async function english(page, name, sel, expected) {
  await page.click('[data-test=lang-en]')
  await page.waitForFunction(([s, e]) => document.querySelector(s)?.textContent?.includes(e), [sel, expected], { timeout: 5000 })
  await page.waitForTimeout(300)
  await shot(page, `${name}-en`)
  step(`${name} in English ("${expected}")`)
  await page.click('[data-test=lang-zh]')
  await page.waitForTimeout(200)
}

/** The rows of the map's children table: code, open, overdue, filed. */
async function mapRows(page) {
  return page.$$eval('[data-test=map-child]', (rows) =>
    rows.map((r) => ({
      code: r.getAttribute('data-code'),
      open: Number(r.querySelector('[data-test=open]')?.textContent),
      overdue: Number(r.querySelector('[data-test=overdue]')?.textContent),
      filed: Number(r.querySelector('[data-test=filed]')?.textContent),
    })),
  )
}
const crumbs = (page) => page.$$eval('[data-test=breadcrumb] .el-breadcrumb__inner', (els) => els.map((e) => e.textContent?.trim()))

/** Checks the map page at `code` shows what GET /api/v1/map/{code} answers; returns the rows. */
async function checkMapLevel(page, code, level, depth) {
  await page.waitForSelector('[data-test=map-child]', { timeout: 15000 })
  await page.waitForFunction(() => !document.querySelector('[data-test=map-chart] .el-loading-mask'), null, { timeout: 15000 })
  const api = await apiGet(page, `/api/v1/map/${code}`)
  const want = api.features.features.map((f) => f.properties).map(({ code, open, overdue, filed }) => ({ code, open, overdue, filed }))
  const got = await mapRows(page)
  const key = (x) => x.code
  check(same([...got].sort((a, b) => key(a).localeCompare(key(b))), [...want].sort((a, b) => key(a).localeCompare(key(b)))),
    `${level} ${api.region.name}: the ${got.length} children and their counts equal the API's features`)
  check(api.child_level === (level === 'county' ? 'township' : level === 'township' ? 'village' : 'grid'), `${level}: children are ${api.child_level}s`)
  const c = await crumbs(page)
  check(c.length === depth && c[c.length - 1] === api.region.name, `breadcrumb: ${c.join(' / ')}`)
  check(await page.$('[data-test=map-chart] canvas'), `${level}: the map is drawn`)
  return got
}

/** The child with the most open matters (then filed), to drill into. */
const busiest = (rows) => [...rows].sort((a, b) => b.open - a.open || b.filed - a.filed || a.code.localeCompare(b.code))[0]

async function drill(page, code) {
  await page.click(`[data-test=map-child][data-code="${code}"] [data-test=map-child-link]`)
  await page.waitForURL(new RegExp(`/map/${code}$`), { timeout: 15000 })
}

let failed = false
try {
  // ---- The leader: dashboard -------------------------------------------------------------------
  const page = await newPage()
  await login(page, 'zhuji-leader', /\/dashboard/)
  step('a leader lands on the dashboard')
  await page.waitForSelector('[data-test=today-total]', { timeout: 15000 })
  const dash = await apiGet(page, '/api/v1/dashboard')
  check(await text(page, '[data-test=today-total]') === String(dash.today_total), `today's intake: ${dash.today_total}`)
  check(await text(page, '[data-test=open-total]') === String(dash.open.open), `open: ${dash.open.open}`)
  check(await text(page, '[data-test=overdue-total]') === String(dash.open.overdue), `overdue: ${dash.open.overdue}`)
  for (const [k, f] of [['received', 'received'], ['due', 'due'], ['suspended', 'suspended'], ['closed', 'closed'], ['closed-on-time', 'closed_on_time']]) {
    const v = await text(page, `[data-test=month-${k}]`)
    check(v === String(dash.month[f]), `this month's ${f}: ${v}`)
  }
  const closure = await text(page, '[data-test=closure-rate]')
  const onTime = await text(page, '[data-test=on-time-rate]')
  check(closure === pct(dash.month.closure_rate) && /^(\d+\.\d%|—)$/.test(closure), `closure rate renders: ${closure}`)
  check(onTime === pct(dash.month.on_time_rate) && /^(\d+\.\d%|—)$/.test(onTime), `on-time rate renders: ${onTime}`)
  if (dash.today.length) check(await page.$('[data-test=today-chart] canvas'), `today's bar chart is drawn (${dash.today.length} categories)`)
  else check(await page.$('[data-test=today-empty]'), 'nothing filed today: an empty chart says so')
  const dashRows = await page.$$eval('[data-test=dash-child]', (els) =>
    els.map((a) => {
      const tr = a.closest('tr')
      return { code: a.getAttribute('data-code'), open: Number(tr?.querySelector('[data-test=open]')?.textContent), overdue: Number(tr?.querySelector('[data-test=overdue]')?.textContent) }
    }),
  )
  check(same(dashRows, dash.children.map(({ code, open, overdue }) => ({ code, open, overdue }))),
    `${dashRows.length} townships, sorted by overdue, equal the API's`)
  // The rate's definition is in a tooltip.
  await page.hover('[data-test=closure-def]')
  await page.waitForSelector('.el-popper:has-text("结案率 = 结案数")', { timeout: 5000 })
  step('the closure rate has its definition in a tooltip')
  await shot(page, 'dashboard')
  await english(page, 'dashboard', '.page-title', 'Leader dashboard')

  // ---- Map: drill down county → township → village → grid -----------------------------------
  await page.click('[data-test=nav-map]')
  await page.waitForURL(/\/map$/)
  const county = await checkMapLevel(page, '330681', 'county', 1)
  await shot(page, 'map-county')
  await english(page, 'map', '.page-title', 'Matter map')

  const town = busiest(county)
  await drill(page, town.code)
  const villages = await checkMapLevel(page, town.code, 'township', 2)
  await shot(page, 'map-township')

  const village = busiest(villages)
  await drill(page, village.code)
  const grids = await checkMapLevel(page, village.code, 'village', 3)
  check(grids.every((g) => g.code.length === 15), 'a village’s children are grids')
  await shot(page, 'map-village')

  const grid = busiest(grids)
  await drill(page, grid.code)
  await page.waitForSelector('[data-test=grid-matters]', { timeout: 15000 })
  await page.waitForFunction(() => !document.querySelector('[data-test=map-chart] .el-loading-mask'), null, { timeout: 15000 })
  await page.waitForTimeout(300)
  const c4 = await crumbs(page)
  check(c4.length === 4, `grid level: breadcrumb ${c4.join(' / ')}`)
  const gm = await apiGet(page, `/api/v1/matters?under=${grid.code}&limit=50`)
  const shownIds = await page.$$eval('[data-test=grid-matter]', (els) => els.map((e) => Number(e.getAttribute('data-id'))))
  check(same(shownIds, gm.items.map((m) => m.id)), `the grid's ${shownIds.length} matters equal the API's`)
  check(await page.$('[data-test=map-chart] canvas'), 'grid: the grid is drawn')
  await shot(page, 'map-grid')
  // Back up one level, and a breadcrumb link to the top.
  await page.click('[data-test=map-up]')
  await page.waitForURL(new RegExp(`/map/${village.code}$`))
  await page.waitForSelector(`[data-test=map-child][data-code="${grid.code}"]`)
  step('"up one level" goes back to the village')
  await page.click('[data-test=breadcrumb] [data-test=crumb-link] >> nth=0')
  await page.waitForURL(/\/map\/330681000000$/)
  await page.waitForSelector(`[data-test=map-child][data-code="${town.code}"]`)
  step('the breadcrumb leads back to the county')

  // ---- Board -------------------------------------------------------------------------------
  await page.click('[data-test=nav-board]')
  await page.waitForURL(/\/board$/)
  for (const [name, label] of [['board-overdue', 'overdue'], ['board-escalated', 'escalated']]) {
    await page.waitForSelector(`[data-test=${name}-total]`, { timeout: 15000 })
    const q = await page.getAttribute(`[data-test=${name}]`, 'data-query')
    const want = await apiGet(page, `/api/v1/matters?${q}&limit=20`)
    const counts = await apiGet(page, `/api/v1/matters/counts?${q}`)
    const ids = await page.$$eval(`[data-test=${name}-row]`, (els) => els.map((e) => Number(e.getAttribute('data-id'))))
    check(same(ids, want.items.map((m) => m.id)), `${label}: the first ${ids.length} rows equal the API's list (${q})`)
    check(Number(await page.getAttribute(`[data-test=${name}-total]`, 'data-total')) === counts.total, `${label}: ${counts.total} in all`)
    if (label === 'overdue') {
      const late = await page.$$eval('[data-test=board-overdue-late]', (els) => els.map((e) => e.textContent?.trim()))
      check(late.every((s) => /^超期 \d+(天\d+小时|小时\d+分钟|分钟)$/.test(s ?? '')), `overdue for: ${late.slice(0, 3).join(', ')}`)
    }
    if (want.next) {
      await page.click(`[data-test=${name}-more]`)
      await page.waitForFunction(([n, k]) => document.querySelectorAll(`[data-test=${n}-row]`).length > k, [name, ids.length])
      step(`${label}: "load more" adds the next page`)
    }
  }
  const chips = await page.$$eval('[data-test=board-count]', (els) => els.map((e) => e.getAttribute('data-code')))
  check(same([...chips].sort(), dash.children.map((c) => c.code).sort()), `counts for ${chips.length} townships at the top`)
  await shot(page, 'board')
  await english(page, 'board', '.page-title', 'Overdue and escalation board')
  await page.context().close()

  // ---- An operator merges a possible duplicate ----------------------------------------------------
  let op = await newPage()
  await login(op, 'zhuji-operator', /\/inbox/)
  let target = null
  let dup = null
  const recent = await apiGet(op, '/api/v1/matters?limit=60')
  for (const m of recent.items) {
    if (m.lng === null || m.lng === undefined || !m.category_code) continue
    const ds = await apiGet(op, `/api/v1/matters/${m.id}/duplicates`)
    const d = ds.find((x) => x.actions_allowed.includes('merge'))
    if (d) {
      target = m
      dup = d
      break
    }
  }
  if (!target) {
    // None the county operator may merge: report the same thing twice at one point of 枫桥镇.
    const at = recent.items.find((m) => m.lng && m.lat && m.grid_code.startsWith('330681109')) ?? recent.items.find((m) => m.lng && m.lat)
    const body = (n) => ({
      description: `测试：同一地点重复上报（第${n}次）`,
      category_code: at.category_code ?? '0301',
      lng: at.lng + 0.0001 * n,
      lat: at.lat,
      channel: 'hotline',
    })
    dup = await apiPost(op, '/api/v1/matters', body(1))
    target = await apiPost(op, '/api/v1/matters', body(2))
    step(`reported #${dup.id} and #${target.id} at the same place (held by ${dup.holder})`)
  }
  await op.goto(`${BASE_URL}/matters/${target.id}`)
  await op.waitForSelector(`[data-test=duplicate-row][data-id="${dup.id}"]`, { timeout: 15000 })
  const rows = await op.$$eval('[data-test=duplicate-row]', (els) => els.map((e) => Number(e.getAttribute('data-id'))))
  const apiDups = await apiGet(op, `/api/v1/matters/${target.id}/duplicates`)
  check(same(rows, apiDups.map((d) => d.id)), `possible duplicates of #${target.id}: ${rows.join(', ')}`)
  const buttons = await op.$$eval('[data-test=duplicate-row]', (els) => els.map((e) => !!e.querySelector('[data-test=merge-duplicate]')))
  check(same(buttons, apiDups.map((d) => d.actions_allowed.includes('merge'))), `"merge into this" only where the API allows it: ${JSON.stringify(buttons)}`)
  const dist = await text(op, `[data-test=duplicate-row][data-id="${dup.id}"] [data-test=duplicate-distance]`)
  check(/^\d+ 米$/.test(dist ?? ''), `distance shown: ${dist}`)
  await shot(op, 'duplicates')
  await english(op, 'duplicates', '[data-test=duplicates]', 'Possible duplicates')
  if (!apiDups.find((d) => d.id === dup.id)?.actions_allowed.includes('merge')) {
    // The township's centre holds the reports: its operator merges them.
    await op.context().close()
    op = await newPage()
    await login(op, 'fengqiao-operator', /\/inbox/)
    await op.goto(`${BASE_URL}/matters/${target.id}`)
    await op.waitForSelector(`[data-test=duplicate-row][data-id="${dup.id}"] [data-test=merge-duplicate]`, { timeout: 15000 })
    step(`the holding centre's operator (fengqiao-operator) may merge #${dup.id}`)
  }
  await op.click(`[data-test=duplicate-row][data-id="${dup.id}"] [data-test=merge-duplicate]`)
  await op.waitForSelector('.el-popconfirm', { state: 'visible' })
  await op.click('.el-popconfirm .el-button--primary')
  await op.waitForSelector(`[data-test=duplicate-row][data-id="${dup.id}"]`, { state: 'detached', timeout: 15000 })
  const after = await apiGet(op, `/api/v1/matters/${dup.id}`)
  check(after.state === 'merged' && after.merged_into === target.id, `#${dup.id} is now ${after.state} into #${after.merged_into}`)
  await shot(op, 'duplicates-merged')
  await op.context().close()
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
console.log(failed ? `OVERVIEW FAILED (${passedChecks()} checks passed)` : `OVERVIEW OK (${passedChecks()} checks)`)
process.exit(failed ? 1 : 0)
