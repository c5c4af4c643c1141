// Every main page, in Chinese and in English, as each kind of account sees it: no console or
// page errors (a missing translation logs one: see src/i18n), no raw i18n key or API enum on
// screen, and in English no Chinese in the page's chrome (data values may be Chinese).
// A full-page screenshot of each: test-output/pages-<page>[-<account>]-<lang>.png.
// BASE_URL and ACCOUNTS as for smoke.mjs.
import { join } from 'node:path'
import { BASE_URL, passwordOf, outDir, check, launch } from './support.mjs'

const DESKTOP = { width: 1440, height: 900 }
const PHONE = { width: 390, height: 844 }

/** Kinds of account: who signs in, on what screen. `null` is nobody (public pages). */
const ACCOUNTS = {
  operator: { user: 'zhuji-operator', viewport: DESKTOP },
  leader: { user: 'zhuji-leader', viewport: DESKTOP },
  admin: { user: 'admin', viewport: DESKTOP },
  grid: { user: 'gridworker', viewport: PHONE },
}

// Chrome: where every word is the app's own (nav, titles, labels, buttons, headers).
const DESKTOP_CHROME = ['.topbar .brand', '.menu', '.page-title', '.el-form-item__label', '.el-table th', '.el-card__header',
  'button', '.el-descriptions__label', '.el-tag', '.el-dialog__header', '.el-empty__description', '.el-select__placeholder',
  '.muted', '.el-result__title']
const PHONE_CHROME = ['.m-brand', '.m-sync', '.m-nav', '.m-card h2', '.m-row > .muted', '.m-bigbtn', 'button', '.m-foot', 'label']
const PORTAL_CHROME = ['.portal-bar', 'h1', 'h2', 'h3', '.el-form-item__label', 'button', '.muted', '.tile', '.hint']

/**
 * The pages, one line each: `path` (or a function of the context: matter, tracking code),
 * null to skip it when the demo has nothing to show there; `as` the account kinds that visit it (null: signed out), `ready` what shows once loaded,
 * `chrome` the selectors whose text must be English in English.
 */
const PAGES = [
  { name: 'login', path: '/login', as: [null], ready: '[data-test=login-submit]', chrome: ['.login-card', '.login-lang'] },
  { name: 'inbox', path: '/inbox', as: ['operator', 'leader'], ready: '[data-test^=bucket-]', chrome: DESKTOP_CHROME },
  { name: 'matters', path: '/matters', as: ['operator', 'leader'], ready: '[data-test=matter-link]', chrome: DESKTOP_CHROME },
  { name: 'matter', path: (c) => `/matters/${c.matter.id}`, as: ['operator', 'leader'], ready: '[data-test=log-action]', chrome: DESKTOP_CHROME },
  { name: 'map', path: '/map', as: ['operator', 'leader'], ready: '[data-test=map-child], [data-test=grid-matters]', chrome: DESKTOP_CHROME },
  { name: 'dashboard', path: '/dashboard', as: ['operator', 'leader'], ready: '[data-test=today-total]', chrome: DESKTOP_CHROME },
  { name: 'board', path: '/board', as: ['operator', 'leader'], ready: '[data-test=board-overdue-total]', chrome: DESKTOP_CHROME },
  { name: 'patrols', path: '/patrols', as: ['operator', 'leader'], ready: '[data-test=patrols][data-state=ready]', chrome: DESKTOP_CHROME },
  { name: 'rentals', path: '/rentals', as: ['operator', 'leader'], ready: '[data-test=rentals][data-state=ready]', chrome: DESKTOP_CHROME },
  { name: 'rental-unit', path: (c) => c.rental && `/rentals/units/${c.rental.id}`, as: ['operator', 'leader'], ready: '[data-test=unit-page][data-state=ready]', chrome: DESKTOP_CHROME },
  { name: 'mediation', path: '/mediation', as: ['operator', 'leader'], ready: '[data-test=mediation][data-state=ready]', chrome: DESKTOP_CHROME },
  { name: 'mediation-case', path: '/mediation/cases/1', as: ['operator', 'leader'], ready: '[data-test=case-state]', chrome: DESKTOP_CHROME },
  { name: 'screen', path: '/screen', as: ['operator', 'leader'], ready: '[data-test=screen][data-state=ready]', chrome: ['.scr-head .scr-left', '.scr-live', '.panel h3', '.rank th', '.legend'] },
  { name: 'indicators', path: '/indicators', as: ['operator', 'leader', 'admin'], ready: '[data-test=indicators][data-state=ready] [data-test=ind-value]', chrome: DESKTOP_CHROME },
  { name: 'indicators-day', path: '/indicators?breakdown=day', as: ['leader'], ready: '[data-test=ind-trend] canvas', chrome: DESKTOP_CHROME },
  { name: 'warnings', path: '/warnings', as: ['operator', 'leader', 'admin'], ready: '[data-test=warnings][data-state=ready] [data-test=warn-row]', chrome: DESKTOP_CHROME },
  { name: 'rankings', path: '/rankings', as: ['operator', 'leader', 'admin'], ready: '[data-test=rankings][data-state=ready] [data-test=rank-row]', chrome: DESKTOP_CHROME },
  { name: 'reports', path: '/reports', as: ['leader', 'admin'], ready: '[data-test=reports][data-state=ready] [data-test=report-row]', chrome: DESKTOP_CHROME },
  { name: 'safety-settings', path: '/settings/safety', as: ['admin'], ready: '[data-test=safety-settings][data-state=ready] [data-test=rule-yellow]', chrome: DESKTOP_CHROME },
  { name: 'safety-settings-index', path: '/settings/safety?tab=index', as: ['admin'], ready: '[data-test=index-node]', chrome: DESKTOP_CHROME },
  { name: 'safety-settings-alerts', path: '/settings/safety?tab=alerts', as: ['admin'], ready: '[data-test=alert-size]', chrome: DESKTOP_CHROME },
  { name: 'm-home', path: '/m', as: ['grid'], ready: '[data-test=grid-total]', chrome: PHONE_CHROME },
  { name: 'm-report', path: '/m/report', as: ['grid'], ready: '[data-test=report-submit]', chrome: PHONE_CHROME },
  { name: 'm-tasks', path: '/m/tasks', as: ['grid'], ready: '[data-test=m-mine]', chrome: PHONE_CHROME },
  { name: 'm-matter', path: (c) => c.gridMatter && `/m/matters/${c.gridMatter.id}`, as: ['grid'], ready: '.m-card', chrome: PHONE_CHROME },
  { name: 'm-patrol', path: '/m/patrol', as: ['grid'], ready: '[data-test=patrol-current]', chrome: PHONE_CHROME },
  { name: 'portal', path: '/c', as: [null], phone: true, ready: '[data-test=portal-report]', chrome: PORTAL_CHROME },
  { name: 'portal-report', path: '/c/report', as: [null], phone: true, ready: '[data-test=portal-submit]', chrome: PORTAL_CHROME },
  { name: 'portal-track', path: (c) => `/c/track/${c.matter.tracking_code}`, as: [null], phone: true, ready: '.portal-main .el-card, .portal-main section', chrome: PORTAL_CHROME },
  { name: 'portal-rentals', path: '/c/rentals', as: [null], phone: true, ready: '[data-test=rental-count]', chrome: PORTAL_CHROME },
  { name: 'rental-listing', path: (c) => c.rental && `/rental/${c.rental.public_token}`, as: [null], phone: true, ready: '[data-test=listing]', chrome: PORTAL_CHROME },
]
const LANGS = ['zh-CN', 'en']

const HAN = /[\u3400-\u9fff\uf900-\ufaff]/
// Dotted text that is no i18n key: file and host names.
const NOT_A_KEY = /\.(png|jpe?g|csv|xlsx|js|json|txt|com|cn|org|html)$/

/** A matter `kind` sees, preferably one gone far (a long timeline); undefined if none. */
async function sampleMatter(kind) {
  const user = ACCOUNTS[kind].user
  const login = await fetch(`${BASE_URL}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: user, password: passwordOf(user) }),
  })
  const { token } = await login.json()
  const auth = { headers: { Authorization: `Bearer ${token}` } }
  const far = await (await fetch(`${BASE_URL}/api/v1/matters?state=rated,closed&limit=1`, auth)).json()
  const any = await (await fetch(`${BASE_URL}/api/v1/matters?limit=1`, auth)).json()
  return far.items[0] ?? any.items[0]
}

/** A listed rental unit the operator sees (its page, its public token); undefined if none. */
async function sampleRental() {
  const user = ACCOUNTS.operator.user
  const login = await (await fetch(`${BASE_URL}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: user, password: passwordOf(user) }) })).json()
  const r = await fetch(`${BASE_URL}/api/v1/rentals/units?state=vacant&limit=1`, { headers: { Authorization: `Bearer ${login.token}` } })
  return r.ok ? (await r.json()).items[0] : undefined
}

/** What the page shows that it should not; checked in the page. */
function inspect({ lang, chrome }) {
  // Text that looks like an i18n key path (`matters.title`) or an API enum (`to_review`).
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length)
  const text = document.body.innerText
  const keyPaths = [...text.matchAll(/\b[a-z]+(?:\.[a-z_]+)+\b/g)].map((m) => m[0])
  const enums = [...text.matchAll(/\b[a-z]+(?:_[a-z]+)+\b/g)].map((m) => m[0])
  const han = []
  if (lang === 'en') {
    for (const sel of chrome) {
      for (const el of document.querySelectorAll(sel)) {
        if (!visible(el)) continue
        // Chinese that is data (a name, a description) or the language switch's own name.
        const clone = el.cloneNode(true)
        clone.querySelectorAll('[data-value], [data-test=lang-zh]').forEach((x) => x.remove())
        if (el.closest('[data-value], [data-test=lang-zh]')) continue
        const s = clone.textContent.replace(/\s+/g, ' ').trim()
        if (/[\u3400-\u9fff\uf900-\ufaff]/.test(s)) han.push(`${sel}: ${s.slice(0, 80)}`)
      }
    }
    for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder]')) {
      if (visible(el) && /[\u3400-\u9fff]/.test(el.placeholder)) han.push(`placeholder: ${el.placeholder}`)
    }
  }
  return { keyPaths, enums, han: [...new Set(han)] }
}

// The matter to open on the desktop (its tracking code for the portal), and on the phone.
const ctx = { matter: await sampleMatter('operator'), gridMatter: await sampleMatter('grid'), rental: await sampleRental() }
check(ctx.matter?.id > 0, `a matter to open: #${ctx.matter.id} (${ctx.matter.tracking_code})`)

const browser = await launch()
const problems = []
let visits = 0
try {
  for (const kind of [...new Set(PAGES.flatMap((p) => p.as))]) {
    const account = kind ? ACCOUNTS[kind] : null
    for (const lang of LANGS) {
      const pages = PAGES.filter((p) => p.as.includes(kind))
      // Signed-out pages: the portal on a phone, the login page on a desktop.
      const groups = account ? [[account.viewport, pages]] : [[DESKTOP, pages.filter((p) => !p.phone)], [PHONE, pages.filter((p) => p.phone)]]
      for (const [viewport, list] of groups) {
        const context = await browser.newContext({ viewport, locale: lang })
        await context.addInitScript((l) => localStorage.setItem('pingan.locale', l), lang)
        if (account) {
          const r = await context.request.post(`${BASE_URL}/api/v1/auth/login`, { data: { username: account.user, password: passwordOf(account.user) } })
          if (!r.ok()) throw new Error(`${account.user} cannot sign in: ${r.status()}`)
        }
        const page = await context.newPage()
        let errors = []
        page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`))
        page.on('pageerror', (e) => errors.push(`page error: ${e.message}`))
        for (const p of list) {
          const label = [p.name, kind, lang].filter(Boolean).join('-')
          errors = []
          const path = typeof p.path === 'function' ? p.path(ctx) : p.path
          if (!path) {
            console.log('-', label, '(skipped: nothing to show in this demo)')
            continue
          }
          await page.goto(BASE_URL + path, { waitUntil: 'networkidle' })
          await page.waitForSelector(p.ready, { timeout: 15000 }).catch(() => errors.push(`never showed ${p.ready} (at ${page.url()})`))
          await page.waitForTimeout(300)
          await page.screenshot({ path: join(outDir, `pages-${label}.png`), fullPage: true })
          const found = await page.evaluate(inspect, { lang, chrome: p.chrome })
          const bad = [
            ...errors,
            ...found.keyPaths.filter((k) => !NOT_A_KEY.test(k)).map((k) => `raw key on screen: ${k}`),
            ...found.enums.map((k) => `raw value on screen: ${k}`),
            ...found.han.map((h) => `Chinese in English chrome: ${h}`),
          ]
          visits++
          if (bad.length) problems.push(`${label} (${path}):\n    ${[...new Set(bad)].join('\n    ')}`)
          else console.log('✓', label, path)
        }
        await context.close()
      }
    }
  }
  // The language switch itself, once: the login page turns English and remembers it.
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'zh-CN' })
  const page = await context.newPage()
  await page.goto(BASE_URL + '/login', { waitUntil: 'networkidle' })
  const zhTitle = (await page.textContent('.login-title')).trim()
  await page.click('[data-test=lang-en]')
  await page.waitForFunction(() => !/[\u4e00-\u9fff]/.test(document.querySelector('.login-title')?.textContent ?? '中'))
  const enTitle = (await page.textContent('.login-title')).trim()
  await page.reload({ waitUntil: 'networkidle' })
  const kept = await page.evaluate(() => localStorage.getItem('pingan.locale'))
  check(HAN.test(zhTitle) && !HAN.test(enTitle) && kept === 'en', `the language switch: "${zhTitle}" → "${enTitle}", remembered`)
  await context.close()
} catch (e) {
  problems.push(e.message)
} finally {
  await browser.close()
}
for (const p of problems) console.error('✗', p)
console.log(problems.length ? `PAGES FAILED (${problems.length} of ${visits} pages)` : `PAGES OK (${visits} pages)`)
process.exit(problems.length ? 1 : 0)
