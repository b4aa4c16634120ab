/**
 * Entry point of the "Worker & Models" view: handshake with the host, render each state it sends, and keep
 * only UI state (expanded rows) in the webview's persisted state.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { StatusViewState } from '../../src/protocol/webview';
import { bootView } from '../common/boot';
import { resolveHost } from './host';
import { packKey, render } from './view';

const host = resolveHost();
const { root, start } = bootView(host);
let expanded = new Set(host.getState()?.expanded ?? []);
let state: StatusViewState | undefined;

function draw(): void {
  render(root, state, expanded, {
    post: (msg) => host.post(msg),
    toggle(key) {
      if (!expanded.delete(key)) expanded.add(key);
      host.setState({ expanded: [...expanded] });
      draw();
    },
  });
}

host.onMessage((msg) => {
  if (msg.type !== 'state') return;
  state = msg.state;
  // Forget rows that no longer exist, so the persisted state does not grow forever.
  if (state.packs) {
    const keys = new Set(state.packs.map(packKey));
    const kept = [...expanded].filter((k) => keys.has(k));
    if (kept.length !== expanded.size) {
      expanded = new Set(kept);
      host.setState({ expanded: kept });
    }
  }
  draw();
});

start(draw);
