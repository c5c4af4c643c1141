// Keyboard only: sign in (Tab, typing, Enter), go through the desk's side menu to the matter list, open a
// matter with Enter on its link, open an action's dialog and close it with Escape, switch the language with
// the arrow keys; on the phone app reach 上报 with Tab and Enter and pick a category with Space. Each
// control reached shows a visible focus ring. Fails on console or page errors.
// BASE_URL and ACCOUNTS as for smoke.mjs; screenshots test-output/keyboard-*.png.
import { join } from 'node:path'
import { BASE_URL, passwordOf, outDir, step, check, passedChecks, launch } from './support.mjs'

const DESK_USER = process.env.KEYBOARD_USER ?? 'zhuji-operator'
const PHONE_USER = 'gridworker'

const problems = []
const browser = await launch()

function watch(page) {
  page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`))
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
}

/** Presses Tab (or Shift+Tab) until the focused element matches `selector`; fails after `max` presses. */
async function tabTo(page, selector, max = 60, key = 'Tab') {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(key)
    const hit = await page.evaluate((s) => !!document.activeElement?.matches(s), selector)
    if (hit) return i + 1
  }
  const at = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120))
  throw new Error(`Tab did not reach ${selector} in ${max} presses (focus on ${at})`)
}

/** The focused element's outline (or box-shadow) as drawn: something visible, not `none`. */
async function focusRing(page) {
  return page.evaluate(() => {
    const el = document.activeElement
    if (!el) return ''
    const c = getComputedStyle(el)
    if (c.outlineStyle !== 'none' && parseFloat(c.outlineWidth) > 0) return `outline ${c.outlineWidth} ${c.outlineStyle} ${c.outlineColor}`
    if (c.boxShadow && c.boxShadow !== 'none') return `box-shadow ${c.boxShadow}`
    return ''
  })
}

async function signInWithKeyboard(page, user) {
  await page.goto(BASE_URL + '/login', { waitUntil: 'networkidle' })
  await tabTo(page, 'input[name=username]', 10)
  await page.keyboard.type(user)
  await page.keyboard.press('Tab')
  check(await page.evaluate(() => document.activeElement?.matches('input[name=password]')), `${user}: Tab goes from the user name to the password`)
  await page.keyboard.type(passwordOf(user))
  await page.keyboard.press('Enter')
}

let failed = false
try {
  // ---- Desk ----------------------------------------------------------------------------------------
  const desk = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const page = await desk.newPage()
  watch(page)
  await signInWithKeyboard(page, DESK_USER)
  await page.waitForURL(/\/inbox$/, { timeout: 15000 })
  step('signed in with the keyboard only: lands on the inbox')

  const n = await tabTo(page, '[data-test=nav-matters]', 20)
  const ring = await focusRing(page)
  check(ring !== '', `the side menu's 事件列表 is reached with ${n} Tabs and shows a focus ring (${ring})`)
  await page.screenshot({ path: join(outDir, 'keyboard-01-nav-focus.png') })
  await page.keyboard.press('Enter')
  await page.waitForURL(/\/matters$/, { timeout: 10000 })
  await page.waitForSelector('[data-test=matter-link]', { timeout: 15000 })
  check(
    (await page.getAttribute('[data-test=nav-matters]', 'aria-current')) === 'page',
    'Enter opens the matter list (the menu marks it aria-current=page)',
  )

  await tabTo(page, '[data-test=matter-link]', 60)
  const linkText = (await page.evaluate(() => document.activeElement?.textContent?.trim())) ?? ''
  const id = linkText.replace('#', '')
  check(/^\d+$/.test(id) && (await focusRing(page)) !== '', `Tab reaches the first matter's link (${linkText}) with a focus ring`)
  await page.screenshot({ path: join(outDir, 'keyboard-02-matter-link.png') })
  await page.keyboard.press('Enter')
  await page.waitForURL(new RegExp(`/matters/${id}$`), { timeout: 10000 })
  await page.waitForSelector('[data-test=actions]', { timeout: 15000 })
  step(`Enter on the link opens matter #${id}`)

  const actions = await page.$$eval('[data-test^=action-]', (els) => els.map((e) => e.getAttribute('data-test')))
  if (actions.length) {
    const versionBefore = await page.evaluate(async (i) => (await (await fetch(`/api/v1/matters/${i}`)).json()).version, id)
    await tabTo(page, '[data-test^=action-]', 40)
    const which = await page.evaluate(() => document.activeElement?.getAttribute('data-test'))
    await page.keyboard.press('Enter')
    const dialog = await page.waitForSelector('.el-dialog:visible, .el-message-box:visible', { timeout: 5000 })
    const inDialog = await page.evaluate(() => !!document.activeElement?.closest('.el-dialog, .el-message-box, .el-overlay'))
    check(!!dialog && inDialog, `Enter on ${which} opens its dialog, with the focus inside it`)
    await page.screenshot({ path: join(outDir, 'keyboard-03-dialog.png') })
    await page.keyboard.press('Escape')
    await page.waitForSelector('.el-dialog:visible, .el-message-box:visible', { state: 'detached', timeout: 5000 }).catch(() => undefined)
    await page.waitForFunction(() => !document.querySelector('.el-dialog:not([style*="display: none"]) , .el-message-box'), null, { timeout: 5000 }).catch(() => undefined)
    const open = await page.$$eval('.el-overlay', (els) => els.filter((e) => getComputedStyle(e).display !== 'none').length)
    const versionAfter = await page.evaluate(async (i) => (await (await fetch(`/api/v1/matters/${i}`)).json()).version, id)
    check(open === 0 && versionAfter === versionBefore, 'Escape closes the dialog and nothing was done to the matter')
  } else {
    step(`matter #${id} offers this account no action (dialog part skipped)`)
  }

  // The language switch: Tab to the checked radio of 中文 / EN, then an arrow key picks English.
  await page.evaluate(() => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : undefined))
  await tabTo(page, '[data-test=lang-switch] input', 20)
  const langRing = await page.evaluate(() => {
    const inner = document.activeElement?.parentElement?.querySelector('.el-radio-button__inner')
    if (!inner) return ''
    const c = getComputedStyle(inner)
    return c.boxShadow !== 'none' ? c.boxShadow : c.outlineStyle !== 'none' ? c.outlineStyle : ''
  })
  await page.keyboard.press('ArrowRight')
  await page.waitForFunction(() => document.documentElement.lang === 'en' || /Matters/.test(document.querySelector('[data-test=nav-matters]')?.textContent ?? ''), null, { timeout: 5000 })
  const navText = (await page.textContent('[data-test=nav-matters]'))?.trim()
  check(navText === 'Matters', `the arrow key on the language switch turns the page English (menu: ${navText}; focus ring: ${langRing || 'none'})`)
  await page.screenshot({ path: join(outDir, 'keyboard-04-english.png') })
  await page.keyboard.press('ArrowLeft')
  await page.waitForFunction(() => /事件列表/.test(document.querySelector('[data-test=nav-matters]')?.textContent ?? ''), null, { timeout: 5000 })
  step('and back to 中文 with the other arrow')
  await desk.close()

  // ---- Phone app -----------------------------------------------------------------------------------
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'zh-CN', isMobile: true, hasTouch: true })
  const m = await phone.newPage()
  watch(m)
  await signInWithKeyboard(m, PHONE_USER)
  await m.waitForURL(/\/m$/, { timeout: 15000 })
  await m.waitForSelector('[data-test=m-nav-report]')
  step('grid worker signs in with the keyboard: lands on /m')
  const tabs = await tabTo(m, '[data-test=go-report], [data-test=m-nav-report]', 30)
  const mRing = await focusRing(m)
  check(mRing !== '', `上报 is reached with ${tabs} Tabs and shows a focus ring (${mRing})`)
  await m.screenshot({ path: join(outDir, 'keyboard-05-m-focus.png') })
  await m.keyboard.press('Enter')
  await m.waitForURL(/\/m\/report$/, { timeout: 10000 })
  step('Enter opens 上报 (/m/report)')
  await m.waitForSelector('.cat')
  await tabTo(m, 'button.cat', 30)
  const catRing = await focusRing(m)
  await m.keyboard.press('Space')
  const pressed = await m.evaluate(() => document.activeElement?.getAttribute('aria-pressed'))
  check(pressed === 'true' && catRing !== '', `a category button takes Space (aria-pressed=${pressed}) and shows a focus ring (${catRing})`)
  await m.screenshot({ path: join(outDir, 'keyboard-06-m-category.png') })
  await phone.close()

  check(problems.length === 0, 'no console or page errors')
} catch (e) {
  failed = true
  console.error('✗', e.message)
} finally {
  for (const p of problems) console.error('  ', p)
  await browser.close()
}
if (failed || problems.length) {
  console.error(`KEYBOARD TEST FAILED (${passedChecks()} checks passed)`)
  process.exit(1)
}
console.log(`KEYBOARD TEST OK (${passedChecks()} checks)`)
