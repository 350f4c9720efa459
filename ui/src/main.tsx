import { render } from 'preact';

function App() {
  return <h1>mnsim</h1>;
}

render(<App />, document.getElementById('app')!);
