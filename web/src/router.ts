import { createRouter, createWebHistory } from 'vue-router'
import { session, loadMe, lastAccount } from './store'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: () => import('./views/Login.vue'), meta: { public: true } },
    // The citizen portal: no account.
    { path: '/c', name: 'portal', component: () => import('./views/portal/PortalHome.vue'), meta: { public: true } },
    { path: '/c/report', name: 'portal-report', component: () => import('./views/portal/PortalReport.vue'), meta: { public: true } },
    { path: '/c/track/:code?', name: 'portal-track', component: () => import('./views/portal/PortalTrack.vue'), props: true, meta: { public: true } },
    { path: '/c/rentals', name: 'portal-rentals', component: () => import('./views/rentals/PublicRentals.vue'), meta: { public: true } },
    { path: '/rental/:token', name: 'rental-listing', component: () => import('./views/rentals/PublicListing.vue'), props: true, meta: { public: true } },
    // The command-centre data screen (大屏): full screen, no desk chrome.
    { path: '/screen/:code(\\d+)?', name: 'screen', component: () => import('./views/Screen.vue'), props: true },
    {
      path: '/',
      component: () => import('./views/Layout.vue'),
      children: [
        { path: '', redirect: '/inbox' },
        { path: 'inbox', name: 'inbox', component: () => import('./views/Inbox.vue') },
        { path: 'matters', name: 'matters', component: () => import('./views/Matters.vue') },
        { path: 'matters/:id(\\d+)', name: 'matter', component: () => import('./views/MatterDetail.vue'), props: true },
        { path: 'map/:code(\\d+)?', name: 'map', component: () => import('./views/MapView.vue'), props: true },
        { path: 'dashboard', name: 'dashboard', component: () => import('./views/Dashboard.vue') },
        { path: 'board', name: 'board', component: () => import('./views/Board.vue') },
        { path: 'rentals', name: 'rentals', component: () => import('./views/rentals/Rentals.vue') },
        { path: 'rentals/units/:id(\\d+)', name: 'rental-unit', component: () => import('./views/rentals/RentalUnit.vue'), props: true },
        { path: 'patrols', name: 'patrols', component: () => import('./views/Patrols.vue') },
        { path: 'mediation', name: 'mediation', component: () => import('./views/Mediation.vue') },
        { path: 'indicators', name: 'indicators', component: () => import('./views/safety/Indicators.vue') },
        { path: 'warnings', name: 'warnings', component: () => import('./views/safety/Warnings.vue') },
        { path: 'rankings', name: 'rankings', component: () => import('./views/safety/Rankings.vue') },
        { path: 'reports', name: 'reports', component: () => import('./views/Reports.vue') },
        { path: 'settings/safety', name: 'safety-settings', component: () => import('./views/safety/SafetySettings.vue') },
        { path: 'mediation/cases/:id(\\d+)', name: 'mediation-case', component: () => import('./views/MediationCase.vue'), props: true },
      ],
    },
    {
      // The grid worker's phone app.
      path: '/m',
      component: () => import('./views/m/MLayout.vue'),
      meta: { mobile: true },
      children: [
        { path: '', name: 'm-home', component: () => import('./views/m/MHome.vue') },
        { path: 'report', name: 'm-report', component: () => import('./views/m/MReport.vue') },
        { path: 'tasks', name: 'm-tasks', component: () => import('./views/m/MTasks.vue') },
        { path: 'matters/:id(\\d+)', name: 'm-matter', component: () => import('./views/m/MMatter.vue'), props: true },
        { path: 'patrol', name: 'm-patrol', component: () => import('./views/m/MPatrol.vue') },
      ],
    },
    { path: '/:rest(.*)*', redirect: '/inbox' },
  ],
})

/** Where an account lands after signing in. */
export function homeFor(role: string | undefined): string {
  return role === 'grid_worker' ? '/m' : role === 'leader' ? '/dashboard' : '/inbox'
}

router.beforeEach(async (to) => {
  if (to.meta.public) return true
  if (!session.checked) await loadMe()
  // Offline on a phone: /api/v1/me cannot answer; keep the account seen last so the queue stays usable.
  if (!session.me && to.meta.mobile !== undefined && !navigator.onLine) {
    const saved = lastAccount()
    if (saved) session.me = saved
  }
  if (!session.me) return { name: 'login', query: to.fullPath !== '/' && to.fullPath !== '/inbox' ? { next: to.fullPath } : {} }
  // A grid worker's home is the phone app.
  // (only when sent there by a redirect, e.g. from `/`; the desktop inbox stays reachable by its link).
  if (session.me.role === 'grid_worker' && to.path === '/inbox' && to.redirectedFrom) return { path: '/m' }
  return true
})
