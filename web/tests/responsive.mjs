// The desk pages at 1024×768 (a small laptop, a landscape tablet) and 768×1024 (a portrait tablet): nothing
// overflows sideways, neither the document nor the main pane (wide tables scroll inside themselves).
// Then the loading and error states: while the matter list's first request runs it shows a loading
// indicator; when it answers 500 it shows an error with a retry button, which loads the list.
// BASE_URL and ACCOUNTS as for smoke.mjs; screenshots test-output/responsive-*.png.
import { join } from 'node:path'
import { BASE_URL, passwordOf, outDir, step, check, passedChecks, launch } from './support.mjs'

const USER = process.env.RESPONSIVE_USER ?? 'zhuji-operator'
const SIZES = [
  { width: 1024, height: 768 },
  { width: 768, height: 1024 },
]

const problems = []
const browser = await launch()
let failed = false

async function signIn(page) {
  await page.goto(BASE_URL + '/login', { waitUntil: 'networkidle' })
  await page.fill('input[name=username]', USER)
  await page.fill('input[name=password]', passwordOf(USER))
  await page.click('[data-test=login-submit]')
  await page.waitForURL(/\/inbox$/, { timeout: 15000 })
}

/** Widths that overflow: the document's and the main pane's scrollWidth against their clientWidth. */
const overflow = (page) =>
  page.evaluate(() => {
    const out = []
    const d = document.scrollingElement
    if (d.scrollWidth > d.clientWidth) out.push(`document ${d.scrollWidth} > ${d.clientWidth}`)
    const main = document.querySelector('.main')
    if (main && main.scrollWidth > main.clientWidth) out.push(`main pane ${main.scrollWidth} > ${main.clientWidth}`)
    return out.join(', ')
  })

try {
  for (const size of SIZES) {
    const ctx = await browser.newContext({ viewport: size, locale: 'zh-CN' })
    const page = await ctx.newPage()
    page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`))
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
    await signIn(page)
    const id = await page.evaluate(async () => (await (await fetch('/api/v1/matters?limit=1')).json()).items[0]?.id)
    const pages = [
      ['inbox', '/inbox', '[data-test^=bucket-]'],
      ['matters', '/matters', '[data-test=matter-link]'],
      ['matter', `/matters/${id}`, '[data-test=actions]'],
      ['map', '/map', '[data-test=map-child]'],
      ['dashboard', '/dashboard', '.page-title'],
      ['board', '/board', '[data-test=board-overdue]'],
      ['patrols', '/patrols', '[data-test=patrols][data-state=ready]'],
      ['indicators', '/indicators?breakdown=day', '[data-test=indicators][data-state=ready] [data-test=ind-trend] canvas'],
      ['warnings', '/warnings', '[data-test=warnings][data-state=ready] [data-test=warn-row]'],
      ['rankings', '/rankings', '[data-test=rankings][data-state=ready] [data-test=rank-row]'],
    ]
    const tag = `${size.width}x${size.height}`
    const menu = await page.$eval('[data-test=nav]', (e) => e.getBoundingClientRect().width)
    check(menu <= 80, `${tag}: the side menu keeps only its icons (${Math.round(menu)} px wide)`)
    for (const [name, path, ready] of pages) {
      await page.goto(BASE_URL + path, { waitUntil: 'networkidle' })
      await page.waitForSelector(ready, { timeout: 15000 })
      await page.waitForTimeout(300) // charts settle
      const o = await overflow(page)
      await page.screenshot({ path: join(outDir, `responsive-${tag}-${name}.png`) })
      check(o === '', `${tag} ${path}: no horizontal overflow${o ? ' (' + o + ')' : ''}`)
    }
    await ctx.close()
  }

  // ---- Loading and error states of the matter list ---------------------------------------------
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' })
  const page = await ctx.newPage()
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('console', (m) => {
    // The refused request itself is logged by the browser (the 500 is what this part provokes).
    if (m.type() === 'error' && !/status of 500/.test(m.text())) problems.push(`console error: ${m.text()}`)
  })
  await signIn(page)
  const list = /\/api\/v1\/matters\?/
  let release
  const held = new Promise((r) => (release = r))
  await page.route(list, async (route) => {
    await held
    await route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ code: 'internal', message: '服务器内部错误', message_en: 'Internal server error' }) })
  })
  await page.click('[data-test=nav-matters]')
  await page.waitForSelector('[data-test=matters-table] .el-loading-mask', { state: 'visible', timeout: 5000 })
  await page.screenshot({ path: join(outDir, 'responsive-state-loading.png') })
  step('the matter list shows a loading indicator while its request runs')
  release()
  await page.waitForSelector('[data-test=load-error]', { timeout: 5000 })
  const text = (await page.textContent('[data-test=load-error]'))?.trim() ?? ''
  await page.screenshot({ path: join(outDir, 'responsive-state-error.png') })
  check(/服务器内部错误/.test(text) && (await page.isVisible('[data-test=load-error] [data-test=retry]')), `a 500 shows the error with a retry button: ${text.replace(/\s+/g, ' ')}`)
  await page.unroute(list)
  await page.click('[data-test=load-error] [data-test=retry]')
  await page.waitForSelector('[data-test=matter-link]', { timeout: 10000 })
  check(!(await page.isVisible('[data-test=load-error]')), 'retry loads the list and the error goes')
  await ctx.close()

  check(problems.length === 0, 'no console or page errors')
} catch (e) {
  failed = true
  console.error('✗', e.message)
} finally {
  for (const p of problems) console.error('  ', p)
  await browser.close()
}
if (failed || problems.length) {
  console.error(`RESPONSIVE TEST FAILED (${passedChecks()} checks passed)`)
  process.exit(1)
}
console.log(`RESPONSIVE TEST OK (${passedChecks()} checks)`)
