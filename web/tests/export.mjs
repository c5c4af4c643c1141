// Export of the matter list as CSV and XLSX: exactly the rows the list API gives for the same
// filters, headers in the UI's language, a progress dialog that can be cancelled.
// BASE_URL and ACCOUNTS as for smoke.mjs.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { BASE_URL, passwordOf, outDir, check, launch } from './support.mjs'

const USER = 'zhuji-operator'
const HEADERS = {
  zh: ['编号', '查询码', '状态', '类别', '紧急程度', '网格编码', '来源', '主办中心', '处置时限', '超期', '上报时间', '结案时间', '评价'],
  en: ['ID', 'Tracking code', 'State', 'Category', 'Severity', 'Grid code', 'Source', 'Holding centre', 'Deadline', 'Overdue',
    'Reported', 'Closed', 'Rating'],
}
const FILE_NAME = /^pingan-matters-\d{8}-\d{4}\.(csv|xlsx)$/
const TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/

// ---- Reading the files back ----------------------------------------------------------------

/** RFC 4180: rows of fields; quoted fields may hold commas, quotes and line breaks. */
function parseCsv(text) {
  const rows = []
  let row = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++
      else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') row.push(field), (field = '')
    else if (c === '\r' && text[i + 1] === '\n') row.push(field), rows.push(row), (row = []), (field = ''), i++
    else if (c === '\n') throw new Error('a bare LF outside quotes (rows must end in CRLF)')
    else field += c
  }
  if (field !== '' || row.length) throw new Error('the last row does not end in CRLF')
  return rows
}

const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
function crc32(buf) {
  let c = 0xffffffff
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/** The files of a store-only ZIP, through its central directory, each CRC checked. */
function unzipStored(buf) {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  if (eocd < 0) throw new Error('no end of central directory')
  const count = buf.readUInt16LE(eocd + 10)
  let at = buf.readUInt32LE(eocd + 16)
  const files = new Map()
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error('bad central directory entry')
    const method = buf.readUInt16LE(at + 10)
    const crc = buf.readUInt32LE(at + 16)
    const size = buf.readUInt32LE(at + 20)
    const nameLen = buf.readUInt16LE(at + 28)
    const skip = nameLen + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32)
    const local = buf.readUInt32LE(at + 42)
    const name = buf.subarray(at + 46, at + 46 + nameLen).toString('utf8')
    if (method !== 0) throw new Error(`${name} is not stored`)
    if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`${name}: bad local header`)
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28)
    const data = buf.subarray(start, start + size)
    if (crc32(data) !== crc) throw new Error(`${name}: CRC mismatch`)
    files.set(name, data.toString('utf8'))
    at += 46 + skip
  }
  return files
}

function hasPython() {
  try {
    execFileSync('python3', ['-c', 'import zipfile'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

// ---- The test ----------------------------------------------------------------------------

const browser = await launch()
const problems = []
let failed = false
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN', acceptDownloads: true })
  const page = await context.newPage()
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`)
  })
  const shot = (name) => page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true })

  await page.goto(BASE_URL + '/login', { waitUntil: 'networkidle' })
  await page.fill('input[name=username]', USER)
  await page.fill('input[name=password]', passwordOf(USER))
  await page.click('[data-test=login-submit]')
  await page.waitForURL(/\/inbox/, { timeout: 15000 })

  /** What the API says for `filter`, asked with the page's session cookie: the count and every ID. */
  const fromApi = (filter) =>
    page.evaluate(async (filter) => {
      const q = new URLSearchParams(filter)
      const { total } = await (await fetch(`/api/v1/matters/counts?${q}`)).json()
      const ids = []
      let after = null
      do {
        const p = new URLSearchParams({ ...filter, limit: '1000', ...(after ? { after } : {}) })
        const page = await (await fetch(`/api/v1/matters?${p}`)).json()
        ids.push(...page.items.map((m) => m.id))
        after = page.next
      } while (after)
      return { total, ids }
    }, filter)

  /** Exports the list shown as `format`; the saved file's path and name. */
  async function exportAs(format, name) {
    await page.click('[data-test=export-button]')
    const item = page.locator(`[data-test=export-${format}]`)
    await item.waitFor({ state: 'visible' })
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), item.click()])
    const file = download.suggestedFilename()
    const path = join(outDir, name)
    await download.saveAs(path)
    await page.waitForSelector('[data-test=export-progress][data-phase=done]', { timeout: 15000 })
    return { path, file }
  }
  async function closeDialog() {
    await page.click('[data-test=export-close]')
    await page.waitForSelector('[data-test=export-progress]', { state: 'hidden' })
  }

  function checkCsv(path, file, api, lang) {
    check(FILE_NAME.test(file) && file.endsWith('.csv'), `CSV file name: ${file}`)
    const bytes = readFileSync(path)
    check(bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf, 'the CSV starts with a UTF-8 BOM')
    const rows = parseCsv(bytes.subarray(3).toString('utf8'))
    check(JSON.stringify(rows[0]) === JSON.stringify(HEADERS[lang]), `CSV header row (${lang}): ${rows[0].join(', ')}`)
    const data = rows.slice(1)
    check(data.length === api.total, `CSV has ${data.length} data rows, the API counts ${api.total}`)
    check(JSON.stringify(data.map((r) => Number(r[0]))) === JSON.stringify(api.ids), 'CSV rows are the API\'s rows, in its order')
    check(data.every((r) => r.length === HEADERS.zh.length && TIME.test(r[10])), 'every row is complete, times as yyyy-MM-dd HH:mm')
    check(data.every((r) => r.every((c) => !/^[=+\-@]/.test(c))), 'no cell starts like a formula')
    return data
  }

  // 1. The whole list, CSV then XLSX.
  await page.click('[data-test=nav-matters]')
  await page.waitForURL(/\/matters/)
  await page.waitForSelector('[data-test=matter-link]', { timeout: 15000 })
  const all = await fromApi({})
  check(all.total > 0 && all.ids.length === all.total, `the API gives ${all.total} matters in ${USER}'s scope`)
  const shownTotal = (await page.textContent('[data-test=matters-total]')).trim()
  check(shownTotal.includes(String(all.total)), `the list shows the same total: ${shownTotal}`)

  const csv = await exportAs('csv', 'export-all.csv')
  const dialogText = (await page.textContent('[data-test=export-progress]')).trim()
  check(dialogText.includes(String(all.total)), `the progress dialog appeared and says: ${dialogText}`)
  await shot('export-done')
  await closeDialog()
  const csvRows = checkCsv(csv.path, csv.file, all, 'zh')
  check(csvRows.some((r) => /[\u4e00-\u9fff]/.test(r[2]) && /[\u4e00-\u9fff]/.test(r[3])), 'states and categories are in Chinese')

  const x = await exportAs('xlsx', 'export-all.xlsx')
  await closeDialog()
  check(FILE_NAME.test(x.file) && x.file.endsWith('.xlsx'), `XLSX file name: ${x.file}`)
  const parts = unzipStored(readFileSync(x.path))
  const want = ['[Content_Types].xml', '_rels/.rels', 'xl/workbook.xml', 'xl/_rels/workbook.xml.rels', 'xl/styles.xml', 'xl/worksheets/sheet1.xml']
  check(want.every((n) => parts.has(n)), `the XLSX is a ZIP of ${[...parts.keys()].join(', ')} (CRCs good)`)
  const sheet = parts.get('xl/worksheets/sheet1.xml')
  const sheetRows = sheet.match(/<row /g)?.length ?? 0
  check(sheetRows === all.total + 1, `sheet1.xml has ${sheetRows} rows: a header and ${all.total}`)
  check(/<pane [^>]*ySplit="1"[^>]*state="frozen"/.test(sheet), 'the header row is frozen')
  check(/<c r="A1" s="1" t="inlineStr"><is><t>编号<\/t>/.test(sheet) && parts.get('xl/styles.xml').includes('<b/>'), 'the header is bold, in Chinese')
  check(sheet.includes(`<c r="A2"><v>${all.ids[0]}</v></c>`), 'IDs are numbers')
  if (hasPython()) {
    const out = execFileSync('python3', ['-c', [
      'import sys, zipfile, xml.dom.minidom as m',
      'z = zipfile.ZipFile(sys.argv[1])',
      'assert z.testzip() is None',
      'for n in z.namelist(): m.parseString(z.read(n))',
      'print(len(m.parseString(z.read("xl/worksheets/sheet1.xml")).getElementsByTagName("row")))',
    ].join('\n'), x.path]).toString().trim()
    check(Number(out) === all.total + 1, `Python's zipfile reads it, every part is well-formed XML, ${out} rows`)
  }

  // 2. A filter: only what the list shows for it, headers in English.
  await page.click('[data-test=lang-en]')
  await page.goto(BASE_URL + '/matters?overdue=true', { waitUntil: 'networkidle' })
  await page.waitForSelector('[data-test=matters-table]')
  const overdue = await fromApi({ overdue: 'true' })
  const en = await exportAs('csv', 'export-overdue-en.csv')
  await closeDialog()
  const enRows = checkCsv(en.path, en.file, overdue, 'en')
  check(enRows.every((r) => r[9] === 'Yes' && !/[\u4e00-\u9fff]/.test(r[2] + r[4] + r[6])), `overdue only (${overdue.total}), states, severities and sources in English`)

  // 3. Progress on a slow server, and cancelling: no file.
  const listApi = (u) => u.pathname === '/api/v1/matters'
  await page.route(listApi, async (route) => {
    await new Promise((r) => setTimeout(r, 1500))
    await route.continue().catch(() => undefined)
  })
  await page.goto(BASE_URL + '/matters', { waitUntil: 'domcontentloaded' })
  await page.waitForSelector('[data-test=matter-link]', { timeout: 15000 })
  let downloaded = false
  page.on('download', () => (downloaded = true))
  await page.click('[data-test=export-button]')
  await page.locator('[data-test=export-xlsx]').click()
  await page.waitForSelector('[data-test=export-progress][data-phase=running]')
  await page.waitForFunction(() => /\d+ \/ \d+/.test(document.querySelector('[data-test=export-progress]')?.textContent ?? ''))
  const running = (await page.textContent('[data-test=export-progress]')).trim()
  check(running === `Exported 0 / ${all.total}`, `while running: "${running}"`)
  await shot('export-progress')
  await page.click('[data-test=export-cancel]')
  await page.waitForSelector('[data-test=export-progress][data-phase=cancelled]')
  await page.waitForTimeout(2500)
  check(!downloaded, 'cancelled: nothing downloaded')
  await closeDialog()
  await page.unroute(listApi)
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
console.log(failed ? 'EXPORT FAILED' : 'EXPORT OK')
process.exit(failed ? 1 : 0)
