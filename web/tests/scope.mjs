// Scope in the browser: an operator of another township can open a matter of
// 枫桥镇 neither by link nor by list. BASE_URL and ACCOUNTS as for smoke.mjs.
import { join } from 'node:path'
import { BASE_URL, passwordOf, outDir, check, launch } from './support.mjs'

// A matter of 枫桥镇, found through the API as its own operator.
const login = await fetch(`${BASE_URL}/api/v1/auth/login`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ username: 'fengqiao-operator', password: passwordOf('fengqiao-operator') }),
})
const { token } = await login.json()
const list = await (await fetch(`${BASE_URL}/api/v1/matters?limit=1`, { headers: { Authorization: `Bearer ${token}` } })).json()
const theirs = list.items[0]
check(theirs && theirs.id > 0, `a matter of 枫桥镇 to try: #${theirs.id}`)

const browser = await launch()
const problems = []
let failed = false
try {
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })).newPage()
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('console', (m) => {
    // The refused matter is a 404 the browser logs as a failed resource: expected.
    if (m.type() === 'error' && !/404|Not Found/.test(m.text())) problems.push(`console error: ${m.text()}`)
  })
  await page.goto(BASE_URL + '/login', { waitUntil: 'networkidle' })
  await page.fill('input[name=username]', 'operator1')
  await page.fill('input[name=password]', passwordOf('operator1'))
  await page.click('[data-test=login-submit]')
  await page.waitForURL(/\/inbox/, { timeout: 15000 })

  // By link: refused, and nothing of the matter shows.
  const answer = page.waitForResponse((r) => r.url().endsWith(`/api/v1/matters/${theirs.id}`))
  await page.goto(`${BASE_URL}/matters/${theirs.id}`)
  check((await answer).status() === 404, 'the API refuses the matter (404)')
  // The page shows the refusal in place of the matter (with a retry), not the matter.
  await page.waitForSelector('[data-test=load-error]', { timeout: 10000 })
  const body = await page.textContent('body')
  check(!body.includes(theirs.tracking_code) && !body.includes(theirs.description), 'the page shows nothing of it')
  await page.screenshot({ path: join(outDir, 'scope-refused.png'), fullPage: true })

  // By list: not there.
  await page.click('[data-test=nav-matters]')
  await page.waitForURL(/\/matters/)
  await page.waitForLoadState('networkidle')
  const ids = await page.$$eval('[data-test=matter-link]', (els) => els.map((e) => e.textContent?.trim()))
  check(!ids.some((i) => i?.replace('#', '') === String(theirs.id)), `the list (${ids.length} rows) does not hold it`)
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
console.log(failed ? 'SCOPE FAILED' : 'SCOPE OK')
process.exit(failed ? 1 : 0)
