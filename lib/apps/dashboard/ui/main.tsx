/**
 * The dashboard's page: a Preact app with hash routes (#/, #/runs, #/runs/<id>, #/queues, #/queues/<name>,
 * #/tasks/<name>), one event stream for live updates, and the JSON API as its only data source. Its styles are
 * styles.css, bundled beside it.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { DashboardInfo } from '../api-types';
import { ErrorMessage } from './common';
import { LiveContext, useEventStream, useResource } from './data';
import { PipelinePage } from './pipeline';
import { QueuePage, QueuesPage, TaskPage } from './queues';
import { RunPage, RunsPage } from './runs';

type Route =
  | { readonly page: 'pipeline' }
  | { readonly page: 'runs' }
  | { readonly page: 'run'; readonly id: string }
  | { readonly page: 'queues' }
  | { readonly page: 'queue'; readonly name: string }
  | { readonly page: 'task'; readonly name: string };

function parseRoute(hash: string): Route {
  const [first, ...rest] = hash.replace(/^#\/?/, '').split('/');
  const arg = rest.map(decodeURIComponent).join('/');
  if (first === 'runs') return arg ? { page: 'run', id: arg } : { page: 'runs' };
  if (first === 'queues') return arg ? { page: 'queue', name: arg } : { page: 'queues' };
  if (first === 'tasks' && arg) return { page: 'task', name: arg };
  return { page: 'pipeline' };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onHash = () => {
      setRoute(parseRoute(location.hash));
      // Move focus to the new page's content, as a page load would, for keyboard and screen reader users.
      document.getElementById('main')?.focus();
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  return route;
}

function Page({ route, hasPipeline }: { readonly route: Route; readonly hasPipeline: boolean }) {
  switch (route.page) {
    case 'runs':
      return <RunsPage />;
    case 'run':
      return <RunPage runId={route.id} />;
    case 'queues':
      return <QueuesPage />;
    case 'queue':
      return <QueuePage name={route.name} />;
    case 'task':
      return <TaskPage name={route.name} />;
    default:
      return hasPipeline ? <PipelinePage /> : <QueuesPage />;
  }
}

function App() {
  const live = useEventStream();
  const route = useRoute();
  const info = useResource<DashboardInfo>('/api/info', () => false);
  const hasPipeline = info.data?.stack !== undefined;
  const current =
    route.page === 'run' ? 'runs' : route.page === 'queue' || route.page === 'task' ? 'queues' : route.page;
  const nav = [
    ...(hasPipeline
      ? [
          { page: 'pipeline', label: 'Pipeline', href: '#/' },
          { page: 'runs', label: 'Runs', href: '#/runs' },
        ]
      : []),
    { page: 'queues', label: 'Queues', href: '#/queues' },
  ];
  useEffect(() => {
    document.title = `${info.data?.stack ?? 'Cloud Tasks emulator'} · dashboard`;
  }, [info.data?.stack]);
  return (
    <LiveContext.Provider value={live}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <strong>{info.data?.stack ?? 'Cloud Tasks emulator'}</strong>
          <span class="muted"> dashboard · emulator {info.data?.emulator ?? '…'}</span>
        </div>
        <nav aria-label="Pages">
          {nav.map((n) => (
            <a key={n.page} href={n.href} aria-current={current === n.page ? 'page' : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
        <span class={live.connected ? 'live on' : 'live off'} role="status">
          <span class="swatch" aria-hidden="true" />
          {live.connected ? 'live' : 'reconnecting…'}
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <ErrorMessage error={info.error} />
        {info.data && <Page route={route} hasPipeline={hasPipeline} />}
      </main>
    </LiveContext.Provider>
  );
}

const root = document.getElementById('app')!;
// The static "Loading" line of the HTML goes; Preact renders into an empty container.
root.replaceChildren();
render(<App />, root);
