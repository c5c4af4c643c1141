// The citizen portal on a phone, without an account: report after the phone
// check (the demo answers the code), then follow it by tracking code.
// BASE_URL and ACCOUNTS as for smoke.mjs.
import { join } from 'node:path'
import { BASE_URL, passwordOf, outDir, check, launch } from './support.mjs'

// A place inside 枫桥镇's grids: where one of its matters was reported.
const login = await fetch(`${BASE_URL}/api/v1/auth/login`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ username: 'fengqiao-operator', password: passwordOf('fengqiao-operator') }),
})
const { token } = await login.json()
const auth = { headers: { Authorization: `Bearer ${token}` } }
const sample = (await (await fetch(`${BASE_URL}/api/v1/matters?limit=50`, auth)).json()).items.find((m) => m.lng)
check(sample, `a place in 枫桥镇: ${sample.lng.toFixed(4)}, ${sample.lat.toFixed(4)}`)

const browser = await launch()
const problems = []
let failed = false
const description = `楼道堆放杂物堵塞消防通道 ${Date.now()}`
try {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    locale: 'zh-CN',
    geolocation: { longitude: sample.lng, latitude: sample.lat },
    permissions: ['geolocation'],
  })
  const page = await context.newPage()
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`)
  })
  const shot = (name) => page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true })

  await page.goto(BASE_URL + '/c', { waitUntil: 'networkidle' })
  await shot('c-home')
  await page.click('[data-test=portal-report]')
  await page.fill('input[name=phone]', '13812340000')
  await page.click('[data-test=send-code]')
  await page.waitForSelector('[data-test=demo-code]')
  const code = (await page.textContent('[data-test=demo-code]')).match(/\d{6}/)?.[0]
  check(code, `the demo answers the code: ${code}`)
  await page.fill('input[name=code]', code)
  await page.fill('textarea[name=description]', description)
  await page.click('[data-test=locate]')
  await page.waitForSelector('[data-test=located]')
  await shot('c-report')
  await page.click('[data-test=portal-submit]')
  await page.waitForSelector('[data-test=tracking-code]', { timeout: 15000 })
  const tracking = (await page.textContent('[data-test=tracking-code]')).trim()
  check(/^[2-9A-Z]{10}$/.test(tracking), `a tracking code: ${tracking}`)
  await shot('c-done')

  // Follow it by the code, in a fresh page without anything remembered.
  const fresh = await (await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'zh-CN' })).newPage()
  fresh.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  await fresh.goto(BASE_URL + '/c/track', { waitUntil: 'networkidle' })
  await fresh.fill('input[name=tracking]', tracking.toLowerCase())
  await fresh.click('[data-test=track-search]')
  await fresh.waitForSelector('[data-test=track-state]')
  check((await fresh.textContent('[data-test=track-state]')).trim() === '待受理', 'the matter waits for review (待受理)')
  const page2 = await fresh.textContent('body')
  check(!page2.includes('13812340000') && !page2.includes('0000'), 'no personal data on the tracking page')
  check(!(await fresh.$('[data-test=portal-rate]')), 'nothing to rate yet')
  await fresh.screenshot({ path: join(outDir, 'c-track.png'), fullPage: true })

  // The centre sees it, filed through the citizen channel, the phone masked.
  const list = await (await fetch(`${BASE_URL}/api/v1/matters?source=citizen&limit=100`, auth)).json()
  const seen = list.items.filter((m) => m.description === description)
  check(seen.length === 1 && seen[0].contact_masked === '138****0000', 'the centre has it once, the phone masked')
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
console.log(failed ? 'PORTAL FAILED' : 'PORTAL OK')
process.exit(failed ? 1 : 0)
