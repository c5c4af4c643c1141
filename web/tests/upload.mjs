// Upload progress on a slowed-down upload (Chromium's network emulation): the phone app's queue shows a bar
// on the item being sent and the header "发送中 n%" while its photo goes up, and the report then arrives once;
// on the desk, a photo added in a matter's 上报办结 / 自行处置 dialog shows its progress bar on the picture card.
// BASE_URL and ACCOUNTS as for smoke.mjs; screenshots test-output/upload-*.png.
import { join } from 'node:path'
import { deflateSync } from 'node:zlib'
import { BASE_URL, passwordOf, outDir, step, check, passedChecks, launch } from './support.mjs'

/** A valid RGB PNG of random pixels (does not compress): about w×h×3 bytes. */
function noisePng(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  const crc = (buf) => {
    let c = 0xffffffff
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8)
    return (c ^ 0xffffffff) >>> 0
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const c = Buffer.alloc(4)
    c.writeUInt32BE(crc(td))
    return Buffer.concat([len, td, c])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  const raw = Buffer.alloc((w * 3 + 1) * h)
  for (let i = 0; i < raw.length; i++) raw[i] = i % (w * 3 + 1) === 0 ? 0 : (Math.random() * 256) | 0
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 0 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

const PHOTO = noisePng(420, 420) // ~530 kB: under the phone's 1.5 MB shrink threshold, so sent as it is
const SLOW = { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 160 * 1024 }

const problems = []
const browser = await launch()
let failed = false

async function signIn(page, user, landing) {
  await page.goto(BASE_URL + '/login', { waitUntil: 'networkidle' })
  await page.fill('input[name=username]', user)
  await page.fill('input[name=password]', passwordOf(user))
  await page.click('[data-test=login-submit]')
  await page.waitForURL(landing, { timeout: 15000 })
}

function watch(page) {
  page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`))
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
}

try {
  // ---- Phone: the queue sender --------------------------------------------------------------------
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'zh-CN', isMobile: true, hasTouch: true })
  const m = await phone.newPage()
  watch(m)
  await signIn(m, 'gridworker', /\/m$/)
  await m.click('[data-test=go-report]')
  await m.waitForSelector('[data-test^=cat-]', { timeout: 10000 })
  const description = `上传进度测试 ${Date.now()}`
  await m.click('[data-test^=cat-]')
  await m.setInputFiles('[data-test=photo-input]', { name: 'scene.png', mimeType: 'image/png', buffer: PHOTO })
  await m.waitForSelector('[data-test=photo-preview]')
  await m.click('[data-test=where-grid]')
  await m.fill('textarea[data-test=description], [data-test=description] textarea', description)
  const cdp = await phone.newCDPSession(m)
  await cdp.send('Network.enable')
  await cdp.send('Network.emulateNetworkConditions', SLOW)
  // Record every percent the header shows while the photo goes up.
  await m.evaluate(() => {
    window.__seen = []
    const el = document.querySelector('[data-test=sync-state]')
    new MutationObserver(() => {
      const p = el.getAttribute('data-percent')
      if (p !== null && window.__seen.at(-1) !== p) window.__seen.push(p)
    }).observe(el, { attributes: true, childList: true, subtree: true, characterData: true })
  })
  await m.click('[data-test=report-submit]')
  await m.waitForFunction(() => {
    const p = Number(document.querySelector('[data-test=sync-state]')?.getAttribute('data-percent') ?? -1)
    return p >= 20 && p < 100
  }, null, { timeout: 20000 })
  const label = (await m.textContent('[data-test=sync-state]'))?.trim()
  const bar = await m.isVisible('[data-test=queue-progress]')
  await m.locator('[data-test=queue-progress]').scrollIntoViewIfNeeded().catch(() => undefined)
  await m.screenshot({ path: join(outDir, 'upload-01-m-sending.png') })
  check(/发送中 \d+%/.test(label) && bar, `while the photo goes up the header shows "${label}" and the queue item a progress bar`)
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
  await m.waitForFunction(() => document.querySelector('[data-test=sync-state]')?.textContent?.trim() === '已同步', null, { timeout: 30000 })
  const seen = await m.evaluate(() => window.__seen.map(Number))
  check(seen.length >= 3 && seen.every((p, i) => i === 0 || p >= seen[i - 1]), `the percent only grows: ${seen.join(' → ')}`)
  check(!(await m.isVisible('[data-test=queue-progress]')), 'sent: the bar and the item are gone, the header says 已同步')
  const count = await m.evaluate(async (d) => {
    const j = await (await fetch('/api/v1/matters?limit=50')).json()
    const found = j.items.filter((x) => x.description === d)
    // The list leaves photos out; the matter itself has them.
    return Promise.all(found.map(async (x) => [x.id, ((await (await fetch(`/api/v1/matters/${x.id}`)).json()).photos ?? []).length]))
  }, description)
  check(count.length === 1 && count[0][1] === 1, `the report arrived once, with its photo (#${count[0]?.[0]})`)
  const reportId = count[0][0]
  await phone.close()

  // ---- Desk: the photo dialog of a matter ------------------------------------------------------------
  const desk = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' })
  const d = await desk.newPage()
  watch(d)
  // The grid worker may act on the desk too: self_resolve of the report just sent takes a result photo.
  await signIn(d, 'gridworker', /\/m$/)
  const target = await d.evaluate(async (id) => {
    const m = await (await fetch(`/api/v1/matters/${id}`)).json()
    const a = (m.actions_allowed ?? []).find((x) => x === 'report_handled' || x === 'self_resolve')
    return a ? { id, action: a } : null
  }, reportId)
  if (!target) {
    step(`matter #${reportId} offers no self_resolve (desk part skipped)`)
  } else {
    await d.goto(`${BASE_URL}/matters/${target.id}`, { waitUntil: 'networkidle' })
    await d.click(`[data-test=action-${target.action}]`)
    await d.waitForSelector('[data-test=action-dialog] .el-upload input[type=file]', { state: 'attached' })
    const dcdp = await desk.newCDPSession(d)
    await dcdp.send('Network.enable')
    await dcdp.send('Network.emulateNetworkConditions', SLOW)
    await d.setInputFiles('[data-test=action-dialog] .el-upload input[type=file]', { name: 'done.png', mimeType: 'image/png', buffer: PHOTO })
    await d.waitForFunction(() => {
      const t = document.querySelector('[data-test=action-dialog] .el-upload-list__item .el-progress__text')?.textContent ?? ''
      const p = parseInt(t, 10)
      return p >= 20 && p < 100
    }, null, { timeout: 20000 })
    const pct = (await d.textContent('[data-test=action-dialog] .el-upload-list__item .el-progress__text'))?.trim()
    const submit = (await d.textContent('[data-test=dialog-submit]'))?.trim()
    await d.screenshot({ path: join(outDir, 'upload-02-desk-dialog.png') })
    check(submit === '上传中…', `#${target.id} ${target.action}: the picture card shows its bar (${pct}) and the button waits (${submit})`)
    await dcdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
    await d.waitForSelector('[data-test=action-dialog] .el-upload-list__item.is-success', { timeout: 20000 })
    check((await d.textContent('[data-test=dialog-submit]'))?.trim() === '确定', 'uploaded: the card is done and the dialog can be confirmed (left unconfirmed)')
    await d.keyboard.press('Escape')
  }
  await desk.close()

  check(problems.length === 0, 'no console or page errors')
} catch (e) {
  failed = true
  console.error('✗', e.message)
} finally {
  for (const p of problems) console.error('  ', p)
  await browser.close()
}
if (failed || problems.length) {
  console.error(`UPLOAD TEST FAILED (${passedChecks()} checks passed)`)
  process.exit(1)
}
console.log(`UPLOAD TEST OK (${passedChecks()} checks)`)
