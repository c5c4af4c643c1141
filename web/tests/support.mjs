// What the browser tests share: where the app is served (BASE_URL), the demo's
// accounts (ACCOUNTS, its demo-accounts.txt), the screenshot folder, checks,
// and Chromium started headless as this machine needs it.
import { chromium } from 'playwright-core'
import { readFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const BASE_URL = (process.env.BASE_URL ?? 'http://127.0.0.1:4173').replace(/\/$/, '')

const ACCOUNTS = process.env.ACCOUNTS
if (!ACCOUNTS) {
  console.error('set ACCOUNTS to the path of demo-accounts.txt')
  process.exit(2)
}
const rows = readFileSync(ACCOUNTS, 'utf8').split('\n').map((l) => l.split('\t'))

/** The demo account `user` as [username, password, role, scope]; exits when absent. */
export function account(user) {
  const row = rows.find((f) => f[0] === user)
  if (!row) {
    console.error(`no account ${user} in ${ACCOUNTS}`)
    process.exit(2)
  }
  return row
}

export const passwordOf = (user) => account(user)[1]

export const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-output')
mkdirSync(outDir, { recursive: true })

let passed = 0
export const passedChecks = () => passed
export function step(msg) {
  passed++
  console.log('✓', msg)
}
export function check(cond, msg) {
  if (!cond) throw new Error('check failed: ' + msg)
  step(msg)
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  })
}
