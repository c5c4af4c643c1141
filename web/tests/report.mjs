// The monthly safety report in the leader view: the schedule's reports of last month are listed (the server
// makes the missing ones when it starts); the county leader makes this month's report of their county from
// the page, sees the progress and the new row, downloads its PDF and XLSX through the page's links, and the
// PDF's first page is rendered with pdftoppm into test-output/report-page1.png (checked not blank). Another
// county's report cannot be downloaded. BASE_URL and ACCOUNTS as for smoke.mjs.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { inflateRawSync } from 'node:zlib'
import { BASE_URL, passwordOf, outDir, check, passedChecks, launch } from './support.mjs'

const problems = []
const browser = await launch()
const origin = new URL(BASE_URL).origin
let failed = false
const MONTH = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit' }).format(new Date())
const LAST_MONTH = (() => {
  const [y, m] = MONTH.split('-').map(Number)
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`
})()

async function pageAs(user, locale = 'zh-CN') {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale, acceptDownloads: true })
  await context.addInitScript((l) => localStorage.setItem('pingan.locale', l), locale)
  const r = await context.request.post(`${BASE_URL}/api/v1/auth/login`, { data: { username: user, password: passwordOf(user) } })
  if (!r.ok()) throw new Error(`${user} cannot sign in: ${r.status()}`)
  const page = await context.newPage()
  page.on('console', (m) => m.type() === 'error' && problems.push(`console error (${user}): ${m.text()}`))
  page.on('pageerror', (e) => problems.push(`page error (${user}): ${e.message}`))
  page.on('request', (q) => {
    const u = q.url()
    if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) problems.push(`external request: ${u}`)
  })
  return { context, page }
}

/** The entries of a ZIP (central directory), inflated: enough to read an XLSX. */
function unzip(buf) {
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  const count = buf.readUInt16LE(end + 10)
  let at = buf.readUInt32LE(end + 16)
  const out = {}
  for (let i = 0; i < count; i++) {
    const method = buf.readUInt16LE(at + 10)
    const packed = buf.readUInt32LE(at + 20)
    const nameLen = buf.readUInt16LE(at + 28)
    const skip = nameLen + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32)
    const local = buf.readUInt32LE(at + 42)
    const name = buf.subarray(at + 46, at + 46 + nameLen).toString('utf8')
    const dataAt = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28)
    const data = buf.subarray(dataAt, dataAt + packed)
    out[name] = (method === 8 ? inflateRawSync(data) : data).toString('utf8')
    at += 46 + skip
  }
  return out
}

try {
  const { context, page } = await pageAs('zhuji-leader')
  await page.goto(`${BASE_URL}/reports`, { waitUntil: 'networkidle' })
  await page.waitForSelector('[data-test=reports][data-state=ready]', { timeout: 20000 })

  // The schedule made last month's report of 诸暨市 at start.
  const rows = () => page.$$eval('[data-test=report-row]', (els) => els.map((e) => ({ id: e.dataset.id, region: e.dataset.region, month: e.dataset.month })))
  let listed = await rows()
  check(listed.some((r) => r.region === '330681000000' && r.month === LAST_MONTH), `last month's (${LAST_MONTH}) scheduled report is listed: ${JSON.stringify(listed)}`)
  check(listed.every((r) => r.region.startsWith('330681')), 'only reports within the leader\'s county are listed')

  // Make this month's from the page: progress while the server draws it, then the new row.
  await page.waitForFunction(() => document.querySelector('[data-test=report-region]')?.textContent?.includes('诸暨'), null, { timeout: 10000 }).catch(() => {})
  const region = await page.textContent('[data-test=report-region]')
  check(region.includes('诸暨'), `the county is offered: ${region}`)
  await page.fill('[data-test=report-month]', MONTH)
  const made = page.waitForResponse((r) => r.url().endsWith('/api/v1/reports') && r.request().method() === 'POST')
  await page.click('[data-test=report-make]')
  const progress = await page.waitForSelector('[data-test=report-progress]', { timeout: 5000 }).then(() => true, () => false)
  const res = await made
  check(res.status() === 201, `the report is made: ${res.status()}`)
  const report = await res.json()
  check(report.origin === 'request' && report.month === MONTH && report.pdf_pages >= 2, `this month's report: ${report.pdf_pages} pages, ${report.overall}`)
  // The progress shows unless the server answered within a frame; not a failure either way.
  console.log(`  progress shown while making: ${progress}`)
  await page.waitForSelector(`[data-test=report-row][data-id="${report.id}"]`, { timeout: 10000 })
  await page.waitForTimeout(300)
  await page.screenshot({ path: join(outDir, 'report-list.png'), fullPage: true })

  // Download both files through the row's links.
  const row = page.locator(`.el-table__row:has([data-test=report-row][data-id="${report.id}"])`)
  const [pdfDownload] = await Promise.all([page.waitForEvent('download'), row.locator('[data-test=report-pdf]').click()])
  const pdfPath = join(outDir, 'report.pdf')
  await pdfDownload.saveAs(pdfPath)
  check(pdfDownload.suggestedFilename().endsWith('.pdf'), `the PDF downloads as ${pdfDownload.suggestedFilename()}`)
  const pdf = readFileSync(pdfPath)
  check(pdf.subarray(0, 7).toString() === '%PDF-1.' && pdf.length === report.pdf_bytes, `a PDF of ${pdf.length} bytes`)

  // Its first page, rendered by poppler.
  execFileSync('pdftoppm', ['-r', '80', '-png', '-singlefile', '-f', '1', '-l', '1', pdfPath, join(outDir, 'report-page1')])
  const png = readFileSync(join(outDir, 'report-page1.png'))
  check(png.subarray(1, 4).toString() === 'PNG' && png.length > 20000, `the first page renders (report-page1.png, ${png.length} bytes)`)
  const gray = execFileSync('pdftoppm', ['-r', '20', '-gray', '-f', '1', '-l', '1', pdfPath])
  const header = gray.indexOf('255\n') + 4
  const pixels = gray.subarray(header)
  const dark = pixels.filter((v) => v < 128).length
  check(dark > pixels.length * 0.01 && dark < pixels.length * 0.6, `the first page has content: ${((dark / pixels.length) * 100).toFixed(1)}% dark`)
  const text = execFileSync('pdftotext', ['-enc', 'UTF-8', '-f', '1', '-l', '1', pdfPath, '-']).toString()
  check(text.includes('诸暨市平安建设月度报表'), 'the first page carries the title')
  const apiReport = await (await context.request.get(`${BASE_URL}/api/v1/indicators?region=330681&period=month&date=${MONTH}-01`)).json()
  const received = apiReport.counters.received
  check(text.replace(/\s/g, '').includes(`本月受理${received}件`), `the first page shows this month's ${received} received, as /indicators`)

  const [xlsxDownload] = await Promise.all([page.waitForEvent('download'), row.locator('[data-test=report-xlsx]').click()])
  const xlsxPath = join(outDir, 'report.xlsx')
  await xlsxDownload.saveAs(xlsxPath)
  const sheets = unzip(readFileSync(xlsxPath))
  check(sheets['xl/workbook.xml']?.includes('乡镇（街道）'), 'the XLSX has the townships sheet')
  check(sheets['xl/worksheets/sheet1.xml']?.includes(`<c r="B2"><v>${received}</v>`), 'the XLSX summary has the same received count')

  // Another county's report is out of reach.
  const all = await (await fetch(`${BASE_URL}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'luqiao-leader', password: passwordOf('luqiao-leader') }),
  })).json()
  const theirs = await (await fetch(`${BASE_URL}/api/v1/reports?month=${LAST_MONTH}`, { headers: { Authorization: `Bearer ${all.token}` } })).json()
  const luqiao = theirs.items.find((r) => r.region_code === '331004000000')
  check(luqiao, "路桥区's leader sees their own report")
  const refused = await context.request.get(`${BASE_URL}${luqiao.pdf_url}`)
  check(refused.status() === 404, `诸暨市's leader cannot download 路桥区's: ${refused.status()}`)
  writeFileSync(join(outDir, 'report-ok.txt'), `${report.region_name} ${report.month}: ${report.pdf_pages} pages\n`)
  await context.close()

  // English chrome.
  {
    const { context, page } = await pageAs('zhuji-leader', 'en')
    await page.goto(`${BASE_URL}/reports`, { waitUntil: 'networkidle' })
    await page.waitForSelector('[data-test=reports][data-state=ready]', { timeout: 20000 })
    const h = await page.textContent('h2')
    check(h.includes('Monthly safety reports'), `English title: ${h}`)
    await context.close()
  }
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
console.log(failed ? `REPORT FAILED (${passedChecks()} checks passed)` : `REPORT OK (${passedChecks()} checks)`)
process.exit(failed ? 1 : 0)
