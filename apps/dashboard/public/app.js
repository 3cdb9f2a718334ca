// First dashboard: the node list, refreshed every few seconds from the REST API.
// (The full dashboard with live updates arrives with its own issue.)

/** @typedef {{ id: string, hostname: string, presence: string, state: string, lastSeenAt: string | null,
 *   identity: { systemUuid: string, macs: string[] } }} NodeSummary */

const tbody = /** @type {HTMLTableSectionElement} */ (document.querySelector('#nodes tbody'));
const summary = /** @type {HTMLElement} */ (document.getElementById('summary'));

/** @param {string} text @param {string} [className] */
function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** @param {NodeSummary[]} nodes */
function render(nodes) {
  const online = nodes.filter((n) => n.presence === 'online').length;
  summary.textContent = nodes.length === 0
    ? 'No nodes yet: start an agent with --bootstrap-token-file pointing at the manager\'s token.'
    : `${nodes.length} nodes, ${online} online`;
  tbody.replaceChildren(...nodes.map((n) => {
    const tr = document.createElement('tr');
    tr.append(
      cell(n.id, 'mono'), cell(n.hostname), cell(n.presence, n.presence), cell(n.state),
      cell(n.identity.systemUuid || '—', 'mono'), cell(n.identity.macs.join(' '), 'mono'),
      cell(n.lastSeenAt ? new Date(n.lastSeenAt).toLocaleTimeString() : '—'),
    );
    return tr;
  }));
}

// The API wants a token (viewer is enough); it is kept in this browser only.
const tokenKey = 'metalfleet.token';

async function refresh() {
  try {
    let response = await fetch('/api/v1/nodes', { headers: { authorization: `Bearer ${localStorage.getItem(tokenKey) ?? ''}` } });
    if (response.status === 401) {
      const token = window.prompt('API token (metalfleet tokens create, or <dataDir>/admin-token):');
      if (token) {
        localStorage.setItem(tokenKey, token.trim());
        response = await fetch('/api/v1/nodes', { headers: { authorization: `Bearer ${token.trim()}` } });
      }
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = /** @type {{ items: NodeSummary[] }} */ (await response.json());
    render(body.items);
    summary.classList.remove('error');
  } catch (error) {
    summary.textContent = `Cannot load nodes: ${error instanceof Error ? error.message : String(error)}`;
    summary.classList.add('error');
  }
}

await refresh();
setInterval(refresh, 3000);
