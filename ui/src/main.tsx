/**
 * The dashboard: signatures like a crash dashboard, the runs, a run's timeline, campaigns. Every
 * page reads the API of the server that serves it (api.ts); routing is in the browser, under /ui.
 */
import { render } from 'preact';
import { LocationProvider, Route, Router } from 'preact-iso';
import { Layout } from './components/Layout';
import { SignaturesPage } from './pages/Signatures';
import { SignaturePage } from './pages/Signature';
import { RunsPage } from './pages/Runs';
import { RunPage } from './pages/Run';
import { CampaignPage, CampaignsPage } from './pages/Campaigns';
import { NotFound } from './pages/NotFound';
import './styles.css';

function App() {
  return (
    <LocationProvider scope="/ui">
      <Layout>
        <Router>
          <Route path="/ui" component={SignaturesPage} />
          <Route path="/ui/" component={SignaturesPage} />
          <Route path="/ui/signatures/:signature" component={SignaturePage} />
          <Route path="/ui/runs" component={RunsPage} />
          <Route path="/ui/runs/:runId" component={RunPage} />
          <Route path="/ui/campaigns" component={CampaignsPage} />
          <Route path="/ui/campaigns/:seed" component={CampaignPage} />
          <Route default component={NotFound} />
        </Router>
      </Layout>
    </LocationProvider>
  );
}

render(<App />, document.getElementById('app')!);
