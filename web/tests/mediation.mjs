// A wage-arrears dispute mediated to an agreement (人民调解): the 枫桥镇 centre operator files and
// registers a 劳资纠纷 matter (API), then refers it to the township mediation committee on the matter
// page (UI); the committee's mediator schedules a session, records it and records a written agreement
// on the case page (UI); the agreement's PDF is fetched with the page's cookie, saved and its first page
// rendered with pdftoppm (test-output/mediation-agreement.{pdf,png}); the mediator closes the case (UI)
// and the matter is closed (API). Screenshots test-output/mediation-*.png; no console errors.
// BASE_URL and ACCOUNTS as for smoke.mjs.
import { execFileSync } from 'node:child_process'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BASE_URL, passwordOf, outDir, step, check, passedChecks, launch } from './support.mjs'

const OPERATOR = 'fengqiao-operator' // the centre of 枫桥镇
const MEDIATOR = 'fengqiao-mediator' // 枫桥镇人民调解委员会
const GRID = '330681109002002'
const WAGE_ARREARS = '0703' // 劳资纠纷
const STAMP = Date.now()
const DESCRIPTION = `某建筑工地拖欠 5 名工人工资共 8 万元 ${STAMP}`

const problems = []
const browser = await launch()

async function device(name) {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } })
  const page = await context.newPage()
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`))
  return page
}
const shot = (page, name) => page.screenshot({ path: join(outDir, `mediation-${name}.png`), fullPage: true })

async function signIn(page, user) {
  await page.goto(BASE_URL + '/login', { waitUntil: 'networkidle' })
  await page.fill('input[name=username]', user)
  await page.fill('input[name=password]', passwordOf(user))
  await page.click('[data-test=login-submit]')
  await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: 15000 })
}

/** JSON of `method path` with the page's cookie. */
const call = (page, method, path, body) =>
  page.evaluate(
    async ({ method, path, body }) => {
      const r = await fetch(path, {
        method,
        headers: body ? { 'Content-Type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
      })
      return { status: r.status, body: await r.json().catch(() => null) }
    },
    { method, path, body },
  )

const caseOf = async (page, id) => (await call(page, 'GET', `/api/v1/mediation/cases/${id}`)).body

/** Opens a case action's dialog (or confirm box), lets `fill` fill it, submits, waits for `state`. */
async function act(page, id, action, state, fill) {
  await page.waitForSelector(`[data-test=case-action-${action}]`, { timeout: 15000 })
  await page.click(`[data-test=case-action-${action}]`)
  if (fill) {
    await page.waitForSelector('[data-test=case-dialog]', { state: 'visible' })
    await fill()
    await page.click('[data-test=case-dialog-submit]')
    await page.waitForSelector('[data-test=case-dialog]', { state: 'hidden', timeout: 15000 })
  } else {
    await page.click('.el-message-box__btns .el-button--primary')
  }
  await page.waitForFunction(
    async ({ id, state }) => (await (await fetch(`/api/v1/mediation/cases/${id}`)).json()).state === state,
    { id, state },
    { timeout: 15000, polling: 300 },
  )
  await page.waitForSelector(`[data-test=case-state][data-state=${state}]`, { timeout: 15000 })
}

try {
  // ---- The operator: the matter (API), the referral (UI) ----
  const operator = await device('operator')
  await signIn(operator, OPERATOR)
  let r = await call(operator, 'POST', '/api/v1/matters', { description: DESCRIPTION, category_code: WAGE_ARREARS, grid_code: GRID })
  check(r.status === 201 || r.status === 200, `the operator files a wage-arrears matter (API): #${r.body?.id} ${r.status}`)
  const matterId = r.body.id
  r = await call(operator, 'POST', `/api/v1/matters/${matterId}/actions`, { action: 'register', version: r.body.version })
  check(r.body?.state === 'registered', `registered (API): ${r.body?.state}`)
  check(r.body.actions_allowed.includes('refer_to_mediation'), 'the operator may refer it to mediation')

  await operator.goto(`${BASE_URL}/matters/${matterId}`, { waitUntil: 'networkidle' })
  await operator.waitForSelector('[data-test=refer-open]', { timeout: 15000 })
  check(!(await operator.$('[data-test=action-refer_to_mediation]')), 'the referral is its own button, not a plain action')
  await operator.click('[data-test=refer-open]')
  await operator.waitForSelector('[data-test=refer-dialog]', { state: 'visible' })
  // The committee picker defaults to the township committee once the list is in.
  await operator.waitForFunction(() => /枫桥镇人民调解委员会/.test(document.querySelector('[data-test=refer-committee]')?.textContent ?? ''), null, { timeout: 15000 })
  check((await operator.textContent('[data-test=refer-type]')).includes('劳资纠纷'), 'the case type follows the category: 劳资纠纷')
  await operator.fill('[data-test=refer-party-0] [data-test=party-name]', '张建国')
  await operator.fill('[data-test=refer-party-0] [data-test=party-phone]', '13800001111')
  await operator.fill('[data-test=refer-party-1] [data-test=party-name]', '诸暨某建筑劳务有限公司')
  await operator.click('[data-test=refer-party-1] .el-select')
  await operator.click('.el-select-dropdown:visible .el-select-dropdown__item:has-text("单位")')
  await operator.fill('[data-test=refer-claims]', '请求支付拖欠工资 8 万元')
  await shot(operator, 'refer')
  await operator.click('[data-test=refer-submit]')
  await operator.waitForURL(/\/mediation\/cases\/\d+/, { timeout: 15000 })
  const caseId = Number(operator.url().match(/cases\/(\d+)/)[1])
  await operator.waitForSelector('[data-test=case-state][data-state=accepted]')
  const opened = await caseOf(operator, caseId)
  check(opened.matter_id === matterId && opened.case_type === 'wage_labour', `referred in the UI: case ${opened.case_number}`)
  const parties = await operator.textContent('[data-test=case-parties]')
  check(parties.includes('张*') && !parties.includes('张建国') && !parties.includes('13800001111'), 'the case page shows the parties masked')
  const m1 = (await call(operator, 'GET', `/api/v1/matters/${matterId}`)).body
  check(m1.state === 'in_mediation' && m1.case_id === caseId, `the matter waits in_mediation, naming case ${m1.case_id}`)
  await operator.goto(`${BASE_URL}/matters/${matterId}`, { waitUntil: 'networkidle' })
  await operator.waitForSelector('[data-test=matter-case-link]')
  check(!(await operator.$('[data-test=refer-open]')), 'the matter page links to the case, no longer offering a referral')

  // ---- The mediator: session, agreement, PDF, close (UI) ----
  const mediator = await device('mediator')
  await signIn(mediator, MEDIATOR)
  await mediator.click('[data-test=nav-mediation]')
  await mediator.waitForSelector('[data-test=mediation][data-state=ready]')
  await mediator.waitForSelector('[data-test=case-stats]')
  await shot(mediator, 'list')
  await mediator.click(`[data-test=case-link]:has-text("${opened.case_number}")`)
  await mediator.waitForURL(new RegExp(`/mediation/cases/${caseId}$`))
  await mediator.waitForSelector('[data-test=case-state][data-state=accepted]')
  step(`the mediator finds the case in the list (${opened.case_number})`)

  // Referred by the centre, the case has no mediator yet: the committee's mediator takes it.
  await act(mediator, caseId, 'assign', 'accepted', async () => {
    await mediator.waitForSelector('[data-test=assign-mediators] .el-tag:has-text("枫桥镇调委会调解员")')
  })
  await mediator.waitForSelector('[data-test=case-action-schedule_session]', { timeout: 15000 })
  check((await caseOf(mediator, caseId)).mediators.length === 1, 'assign: the mediator takes the case (UI)')
  await act(mediator, caseId, 'schedule_session', 'mediating', async () => {
    await mediator.fill('[data-test=session-place]', '枫桥镇人民调解委员会调解室')
  })
  step('schedule_session → mediating (UI)')
  await act(mediator, caseId, 'record_session', 'mediating', async () => {
    await mediator.fill('[data-test=session-attendees]', '张建国、公司代表李某、调解员')
    await mediator.fill('[data-test=session-minutes]', '双方核对工资清单，公司承认欠薪 8 万元，同意分两期支付。')
  })
  const held = await caseOf(mediator, caseId)
  check(held.sessions.some((s) => s.status === 'held' && s.minutes?.includes('分两期')), 'record_session: the session is held, with its minutes (UI)')
  await mediator.waitForSelector('[data-test=case-sessions] [data-status=held]')

  await act(mediator, caseId, 'record_agreement', 'agreed', async () => {
    await mediator.fill('[data-test=term-text-0]', '被申请人于 2026 年 12 月 15 日前支付拖欠工资 4 万元')
    await mediator.click('[data-test=add-term]')
    await mediator.fill('[data-test=term-text-1]', '被申请人于 2027 年 1 月 15 日前支付剩余工资 4 万元')
  })
  const agreed = await caseOf(mediator, caseId)
  check(agreed.agreement?.form === 'written' && agreed.agreement.terms.length === 2, 'record_agreement → agreed: a written agreement of two terms (UI)')
  await mediator.waitForSelector('[data-test=agreement-pdf]')
  await shot(mediator, 'agreed')

  // The PDF, as the link would fetch it, with the page's cookie.
  const href = await mediator.getAttribute('[data-test=agreement-pdf]', 'href')
  const pdf = await mediator.evaluate(async (href) => {
    const r = await fetch(href)
    const b = new Uint8Array(await r.arrayBuffer())
    return { status: r.status, type: r.headers.get('content-type'), bytes: Array.from(b) }
  }, href)
  const pdfPath = join(outDir, 'mediation-agreement.pdf')
  writeFileSync(pdfPath, Buffer.from(pdf.bytes))
  check(pdf.status === 200 && /pdf/.test(pdf.type) && Buffer.from(pdf.bytes.slice(0, 5)).toString() === '%PDF-', `the agreement PDF downloads (${pdf.bytes.length} bytes)`)
  execFileSync('pdftoppm', ['-png', '-r', '60', '-f', '1', '-l', '1', '-singlefile', pdfPath, join(outDir, 'mediation-agreement')])
  const png = join(outDir, 'mediation-agreement.png')
  check(statSync(png).size > 3000, `its first page renders: mediation-agreement.png (${statSync(png).size} bytes)`)
  let text = ''
  try {
    text = execFileSync('pdftotext', ['-f', '1', '-l', '1', pdfPath, '-'], { encoding: 'utf8' })
  } catch {
    text = ''
  }
  if (text) check(text.replace(/\s/g, '').includes('人民调解协议书'), 'the PDF reads 人民调解协议书')

  await act(mediator, caseId, 'close', 'closed')
  step('close → closed (UI)')
  await shot(mediator, 'closed')

  // ---- The matter closes with the mediation (API) ----
  const m2 = (await call(operator, 'GET', `/api/v1/matters/${matterId}`)).body
  check(m2.state === 'closed', `the matter is closed: ${m2.state}`)
  const log = (await call(operator, 'GET', `/api/v1/matters/${matterId}/log`)).body
  check(log.some((e) => e.action === 'mediation_ended'), 'its log ends the mediation (mediation_ended)')
  await operator.goto(`${BASE_URL}/matters/${matterId}`, { waitUntil: 'networkidle' })
  await operator.waitForSelector('[data-test=state-tag]')
  await shot(operator, 'matter-closed')
} catch (e) {
  problems.push(e.stack ?? String(e))
} finally {
  await browser.close()
}
for (const p of problems) console.error('✗', p)
console.log(problems.length ? `MEDIATION FAILED (${problems.length})` : `MEDIATION OK (${passedChecks()} checks)`)
process.exit(problems.length ? 1 : 0)
