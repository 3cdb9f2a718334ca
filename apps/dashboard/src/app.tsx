// The shell: login gate, navigation, live-stream status, and the page for the route.
import { useEffect, useState } from 'preact/hooks';
import { onUnauthorized, session } from './api.ts';
import { connectLive, disconnectLive, useLiveStatus } from './live.ts';
import { useRoute } from './router.ts';
import { AlertsPage } from './pages/alerts.tsx';
import { LoginPage } from './pages/login.tsx';
import { HeatmapPage } from './pages/heatmap.tsx';
import { NodePage } from './pages/node.tsx';
import { NodesPage } from './pages/nodes.tsx';
import { OperationsPage } from './pages/operations.tsx';
import { TenantsPage } from './pages/tenants.tsx';
import { OperationPage } from './pages/operation.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { IdentityPage } from './pages/identity.tsx';

const pages = [
  { path: '/', label: 'Overview' },
  { path: '/nodes', label: 'Nodes' },
  { path: '/gpu-health', label: 'GPU health' },
  { path: '/tenants', label: 'Tenants' },
  { path: '/operations', label: 'Operations' },
  { path: '/alerts', label: 'Alerts' },
  { path: '/identity', label: 'Identity' },
] as const;

export function App() {
  const [loggedIn, setLoggedIn] = useState(session.token() !== null);
  const route = useRoute();
  const live = useLiveStatus();
  useEffect(() => onUnauthorized(() => {
    session.clear();
    setLoggedIn(false);
  }), []);
  useEffect(() => {
    if (loggedIn) connectLive();
    else disconnectLive();
  }, [loggedIn]);

  if (!loggedIn) return <LoginPage onLogin={() => setLoggedIn(true)} />;
  const [, section = '', detail = ''] = route.path.split('/');
  return (
    <>
      <header class="top">
        <span class="brand">metalfleet</span>
        <nav aria-label="Pages">
          {pages.map((p) => <a href={`#${p.path}`} aria-current={(p.path === '/' ? section === '' : p.path === `/${section}`) ? 'page' : undefined}>{p.label}</a>)}
        </nav>
        <span class={live ? 'live up' : 'live down'} title={live ? 'live updates on' : 'live updates reconnecting'}>{live ? '● live' : '○ reconnecting'}</span>
        <button type="button" class="link" onClick={() => {
          session.clear();
          setLoggedIn(false);
        }}>Log out</button>
      </header>
      <main>
        {section === '' && <OverviewPage />}
        {section === 'nodes' && (detail ? <NodePage id={detail} /> : <NodesPage params={route.params} />)}
        {section === 'gpu-health' && <HeatmapPage />}
        {section === 'tenants' && <TenantsPage />}
        {section === 'operations' && (detail ? <OperationPage id={detail} /> : <OperationsPage />)}
        {section === 'alerts' && <AlertsPage params={route.params} />}
        {section === 'identity' && <IdentityPage />}
      </main>
    </>
  );
}
