// Smoke test of the command-centre front end in a headless Chromium.
// BASE_URL: where the app is served (Vite preview/dev proxying /api, or the pingan server).
// ACCOUNTS: the demo-accounts.txt file (username<TAB>password<TAB>role<TAB>scope).
import { join } from 'node:path'
import { BASE_URL, passwordOf, outDir, step, check, passedChecks, launch } from './support.mjs'

const USER = process.env.SMOKE_USER ?? 'fengqiao-operator'
const password = passwordOf(USER)
const problems = []
const browser = await launch()
const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
const page = await context.newPage()
page.on('console', (m) => {
  if (m.type() === 'error') problems.push(`console error: ${m.text()}`)
})
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
// Nothing may be loaded from outside the app's origin.
const origin = new URL(BASE_URL).origin
page.on('request', (r) => {
  const u = r.url()
  if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) problems.push(`external request: ${u}`)
})
const shot = (name) => page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true })

let failed = false
try {
  // Login page; a wrong password shows the API's message.
  await page.goto(BASE_URL + '/login', { waitUntil: 'networkidle' })
  await page.fill('input[name=username]', USER)
  await page.fill('input[name=password]', 'wrong-password')
  // The API answers 401 here, which the browser logs as a failed resource: expected, not counted.
  const before = problems.length
  await page.press('input[name=password]', 'Enter')
  await page.waitForSelector('[data-test=login-error]', { timeout: 10000 })
  const errText = (await page.textContent('[data-test=login-error]'))?.trim()
  check(errText && errText.length > 0, `wrong password shows an error: "${errText}"`)
  problems.splice(before, problems.length - before, ...problems.slice(before).filter((p) => !/401|Unauthorized/.test(p)))
  await shot('01-login-error')

  await page.fill('input[name=password]', password)
  await page.click('[data-test=login-submit]')
  await page.waitForURL(/\/inbox/, { timeout: 15000 })
  await page.waitForSelector('[data-test^=bucket-]', { timeout: 15000 })
  const buckets = await page.$$eval('[data-test^=bucket-]', (els) =>
    els.map((e) => ({ name: e.getAttribute('data-test'), count: e.querySelector('[data-test=count]')?.textContent?.trim() })),
  )
  check(buckets.length > 0 && buckets.every((b) => /^\d+$/.test(b.count ?? '')), `inbox shows counts: ${JSON.stringify(buckets)}`)
  const who = (await page.textContent('[data-test=whoami]'))?.trim()
  check(who && who.length > 0, `top bar shows the user: ${who}`)
  await shot('02-inbox')

  // Matter list, then the first matter.
  await page.click('[data-test=nav-matters]')
  await page.waitForURL(/\/matters/)
  await page.waitForSelector('[data-test=matter-link]', { timeout: 15000 })
  const rows = await page.$$('[data-test=matter-link]')
  check(rows.length > 0, `matter list has ${rows.length} rows`)
  await shot('03-matters')
  const more = await page.$('[data-test=load-more]')
  if (more) {
    await more.click()
    await page.waitForFunction((n) => document.querySelectorAll('[data-test=matter-link]').length > n, rows.length, { timeout: 10000 })
    step('"load more" appends the next page')
  }
  const firstId = (await rows[0].textContent())?.trim()
  await rows[0].click()
  await page.waitForURL(/\/matters\/\d+/)
  await page.waitForSelector('[data-test=timeline] [data-test=log-action]', { timeout: 15000 })
  const logActions = await page.$$eval('[data-test=log-action]', (els) => els.map((e) => e.textContent?.trim()))
  check(logActions.length > 0 && logActions.every((a) => a && !/^[a-z_]+$/.test(a)), `matter ${firstId} timeline (translated): ${logActions.join(', ')}`)
  await page.waitForSelector('[data-test=actions]')
  const actionButtons = await page.$$eval('[data-test^=action-]', (els) =>
    els.filter((e) => e.tagName === 'BUTTON').map((e) => e.textContent?.trim()),
  )
  const noActions = await page.$('[data-test=no-actions]')
  check(actionButtons.length > 0 || noActions !== null, `action buttons: ${actionButtons.join(', ') || '(none allowed)'}`)
  await shot('04-matter-zh')

  // Open the dispatch or a note dialog if available, then cancel (no state change).
  const dialogAction = await page.$('[data-test=action-dispatch], [data-test=action-return], [data-test=action-reject]')
  if (dialogAction) {
    await dialogAction.click()
    await page.waitForSelector('[data-test=action-dialog]', { state: 'visible' })
    await page.waitForTimeout(500)
    await shot('05-action-dialog')
    await page.keyboard.press('Escape')
    step('action dialog opens and closes')
  }

  // Switch to English.
  await page.click('[data-test=lang-en]')
  await page.waitForFunction(() => document.body.innerText.includes('Timeline'), null, { timeout: 5000 })
  const navText = (await page.textContent('[data-test=nav-matters]'))?.trim()
  check(navText === 'Matters', `English label in the menu: ${navText}`)
  const stored = await page.evaluate(() => localStorage.getItem('pingan.locale'))
  check(stored === 'en', 'language persisted in localStorage')
  await page.waitForTimeout(400) // let the switch's transition finish before the screenshot
  await shot('06-matter-en')

  // Inbox in English, then back to Chinese.
  await page.click('[data-test=nav-inbox]')
  await page.waitForSelector('[data-test^=bucket-]')
  check((await page.textContent('body')).includes('To review') || (await page.textContent('body')).includes('Overdue'), 'inbox bucket names in English')
  await shot('07-inbox-en')
  await page.click('[data-test=lang-zh]')
  await page.waitForFunction(() => document.body.innerText.includes('工作台'))
  step('switched back to Chinese')
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
console.log(failed ? `SMOKE FAILED (${passedChecks()} checks passed)` : `SMOKE OK (${passedChecks()} checks)`)
process.exit(failed ? 1 : 0)
