// The whole loop across roles, each in its own browser context as on its own device:
// a grid worker reports on a phone with a photo and the resident's phone number →
// the township operator registers and dispatches → the department handler accepts and
// reports it handled with a result photo → the operator verifies and closes → the
// resident rates it on the portal by tracking code and phone, without an account.
// BASE_URL and ACCOUNTS as for smoke.mjs.
import { join } from 'node:path'
import { BASE_URL, passwordOf, outDir, step, check, passedChecks, launch } from './support.mjs'

const WORKER = 'gridworker'
const OPERATOR = 'operator1' // the centre of the worker's township
const HANDLER = 'handler' // 住建局, a county department
const RESIDENT_PHONE = '13700001234'
// 市政设施损坏: a township matter the centre sends to a department.
const CATEGORY = '0405'
const DESCRIPTION = `人行道井盖破损 ${Date.now()}`
// A valid 1×1 PNG; the result photo differs so both are stored.
const png = (b64) => ({ name: 'scene.png', mimeType: 'image/png', buffer: Buffer.from(b64, 'base64') })
const SCENE = png('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==')
const RESULT = png('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==')

const problems = []
const browser = await launch()
const origin = new URL(BASE_URL).origin

async function device(name, options) {
  const context = await browser.newContext({ locale: 'zh-CN', ...options })
  const page = await context.newPage()
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`))
  page.on('request', (r) => {
    const u = r.url()
    if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) problems.push(`${name}: external request: ${u}`)
  })
  return page
}
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
const desk = { viewport: { width: 1440, height: 900 } }
const shot = (page, name) => page.screenshot({ path: join(outDir, `loop-${name}.png`), fullPage: true })

async function signIn(page, user, landing) {
  await page.goto(BASE_URL + '/login', { waitUntil: 'networkidle' })
  await page.fill('input[name=username]', user)
  await page.fill('input[name=password]', passwordOf(user))
  await page.click('[data-test=login-submit]')
  await page.waitForURL(landing, { timeout: 15000 })
}

/** The matter as the page's account sees it through the API. */
const matterOf = (page, id) =>
  page.evaluate(async (id) => (await fetch(`/api/v1/matters/${id}`, { credentials: 'same-origin' })).json(), id)

/** Clicks an action button on the detail page and waits for the new state. */
async function act(page, id, action, state, dialog) {
  await page.waitForSelector(`[data-test=action-${action}]`, { timeout: 15000 })
  await page.click(`[data-test=action-${action}]`)
  if (dialog) {
    await page.waitForSelector('[data-test=action-dialog]', { state: 'visible' })
    await dialog()
    await page.click('[data-test=dialog-submit]')
  } else {
    await page.click('.el-message-box__btns .el-button--primary')
  }
  await page.waitForFunction(
    async ({ id, state }) => (await (await fetch(`/api/v1/matters/${id}`)).json()).state === state,
    { id, state },
    { timeout: 15000, polling: 300 },
  )
  await page.waitForFunction((name) => document.querySelector('[data-test=state-tag]')?.textContent?.trim() === name, stateNames[state], {
    timeout: 15000,
  })
  step(`${action} → ${state}`)
}
const stateNames = {
  registered: '已立案',
  dispatched: '已派遣',
  accepted: '处置中',
  handled: '已处置',
  verified: '核查通过',
  closed: '已结案',
}

let failed = false
try {
  // 1. The grid worker, on a phone.
  const worker = await device('worker', phone)
  await signIn(worker, WORKER, /\/m$/)
  await worker.click('[data-test=m-nav-report]')
  await worker.waitForSelector(`[data-test=cat-${CATEGORY}]`, { timeout: 15000 })
  await worker.click(`[data-test=cat-${CATEGORY}]`)
  await worker.setInputFiles('[data-test=photo-input]', SCENE)
  await worker.waitForSelector('[data-test=photo-preview]')
  await worker.fill('textarea[data-test=description], [data-test=description] textarea', DESCRIPTION)
  await worker.fill('input[data-test=contact], [data-test=contact] input', RESIDENT_PHONE)
  await shot(worker, '1-worker-report')
  await worker.click('[data-test=report-submit]')
  await worker.waitForSelector('[data-test=tracking-code]', { timeout: 20000 })
  const code = (await worker.textContent('[data-test=tracking-code]'))?.trim()
  check(/^[0-9A-Z]{10}$/.test(code ?? ''), `report sent from the phone, tracking code ${code}`)
  await shot(worker, '2-worker-sent')

  // 2. The township operator registers and dispatches.
  const operator = await device('operator', desk)
  await signIn(operator, OPERATOR, /\/inbox/)
  const found = await operator.evaluate(async (d) => {
    const r = await fetch('/api/v1/matters?state=reported&limit=100')
    return (await r.json()).items.find((m) => m.description === d)
  }, DESCRIPTION)
  check(found && found.tracking_code === code, `the operator finds it to review: #${found?.id}`)
  const id = found.id
  check(found.contact_masked === '137****1234', `the resident's phone is masked: ${found.contact_masked}`)
  await operator.goto(`${BASE_URL}/matters/${id}`, { waitUntil: 'networkidle' })
  await operator.waitForSelector('[data-test=photos] img', { timeout: 15000 })
  step('the scene photo shows on the detail page')
  await act(operator, id, 'register', 'registered')
  const handlerUnit = await (async () => {
    const r = await fetch(`${BASE_URL}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: HANDLER, password: passwordOf(HANDLER) }),
    })
    return (await r.json()).account.unit_id
  })()
  await act(operator, id, 'dispatch', 'dispatched', async () => {
    await operator.waitForSelector('[data-test=deadline-preview]', { timeout: 10000 })
    const options = await operator.evaluate(async (id) => (await (await fetch(`/api/v1/matters/${id}/dispatch-options`)).json()).units, id)
    const unit = options.find((u) => u.id === handlerUnit)
    check(unit, `the unit picker offers the department: ${unit?.name}`)
    await operator.click('[data-test=unit-select]')
    await operator.click(`.el-select-dropdown__item:has-text("${unit.name}")`)
    await shot(operator, '3-operator-dispatch')
  })
  const dispatched = await matterOf(operator, id)
  check(dispatched.assigned_unit_id === handlerUnit && dispatched.deadline > Date.now(), 'dispatched with a deadline ahead')

  // 3. The department handler accepts and reports it handled with a photo.
  const handler = await device('handler', desk)
  await signIn(handler, HANDLER, /\/inbox/)
  await handler.goto(`${BASE_URL}/matters/${id}`, { waitUntil: 'networkidle' })
  await act(handler, id, 'accept', 'accepted')
  await act(handler, id, 'report_handled', 'handled', async () => {
    await handler.setInputFiles('[data-test=action-dialog] input[type=file]', RESULT)
    await handler.waitForSelector('[data-test=action-dialog] .el-upload-list__item.is-success', { timeout: 15000 })
    await handler.fill('textarea[data-test=note], [data-test=note] textarea', '已更换井盖')
    await shot(handler, '4-handler-result')
  })

  // 4. The operator verifies and closes.
  await operator.reload({ waitUntil: 'networkidle' })
  await act(operator, id, 'verify_pass', 'verified')
  await act(operator, id, 'close', 'closed')
  const closed = await matterOf(operator, id)
  check(closed.photos?.length === 2, `scene and result photos kept: ${closed.photos?.length}`)
  await shot(operator, '5-operator-closed')

  // 5. The resident rates it on the portal, by tracking code and phone.
  const resident = await device('resident', phone)
  await resident.goto(`${BASE_URL}/c/track/${code}`, { waitUntil: 'networkidle' })
  await resident.waitForSelector('[data-test=track-result]', { timeout: 15000 })
  check((await resident.textContent('[data-test=track-state]'))?.trim() === '已结案', 'the resident sees it closed')
  await resident.fill('input[name=phone]', RESIDENT_PHONE)
  await resident.click('[data-test=rate-stars] .el-rate__item:nth-child(5)')
  await resident.fill('textarea[name=comment]', '修得很快，谢谢')
  await shot(resident, '6-resident-rate')
  await resident.click('[data-test=portal-rate]')
  await resident.waitForSelector('[data-test=portal-thanks]', { timeout: 15000 })
  check((await resident.textContent('[data-test=track-state]'))?.trim() === '已评价', 'rated on the portal')
  await shot(resident, '7-resident-rated')

  // The record: every step, in order, by the right hands.
  const rated = await matterOf(operator, id)
  check(rated.state === 'rated' && rated.rating === 5, `state ${rated.state}, rating ${rated.rating}`)
  const log = await operator.evaluate(async (id) => (await (await fetch(`/api/v1/matters/${id}/log`)).json()), id)
  const actions = (log.items ?? log).map((e) => e.action)
  const want = ['report', 'register', 'dispatch', 'accept', 'report_handled', 'verify_pass', 'close', 'rate']
  check(JSON.stringify(actions.filter((a) => want.includes(a))) === JSON.stringify(want), `log: ${actions.join(' → ')}`)
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
console.log(failed ? `LOOP FAILED (${passedChecks()} checks passed)` : `LOOP OK (${passedChecks()} checks)`)
process.exit(failed ? 1 : 0)
