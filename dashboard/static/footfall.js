// Footfall dashboard: draws the server-built Plotly figures, follows the live stream (SSE),
// sorts tables. Figures arrive as JSON in <script type="application/json"> next to their div.
"use strict";

const PLOT_CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

function drawFigure(div, figure) {
  return Plotly.react(div, figure.data, figure.layout, PLOT_CONFIG);
}

function drawAll() {
  document.querySelectorAll("div.chart[data-figure]").forEach((div) => {
    const source = document.getElementById(div.dataset.figure);
    if (source) drawFigure(div, JSON.parse(source.textContent));
  });
}

function text(value) { return document.createTextNode(value == null ? "" : String(value)); }

function cell(row, value, className) {
  const td = row.insertCell();
  if (className) td.className = className;
  if (value instanceof Node) td.appendChild(value); else td.appendChild(text(value));
  return td;
}

function badge(word) {
  const span = document.createElement("span");
  span.className = "badge " + word;
  span.textContent = word;
  return span;
}

function renderLive(state) {
  const map = document.getElementById("live-map");
  drawFigure(map, state.figure);
  document.getElementById("live-people").textContent = state.people;
  document.getElementById("live-updated").textContent = state.updated;
  const zones = document.querySelector("#live-zones tbody");
  zones.replaceChildren();
  for (const z of state.zones) {
    const row = zones.insertRow();
    row.dataset.zone = z.zone;
    if (z.crowded) row.className = "crowded";
    cell(row, z.zone);
    cell(row, z.occupancy, "num occupancy");
    cell(row, z.capacity == null ? "–" : z.capacity, "num");
    cell(row, z.load_pct == null ? "–" : z.load_pct + " %", "num");
  }
  const cams = document.querySelector("#live-cameras tbody");
  cams.replaceChildren();
  for (const c of state.cameras) {
    const row = cams.insertRow();
    row.dataset.camera = c.camera;
    cell(row, c.camera);
    cell(row, badge(c.status));
    cell(row, c.last_seen);
    cell(row, c.health || "–");
  }
  renderBanner(state.alerts || []);
  renderQueues(state.queues || []);
  document.body.dataset.liveVersion = state.version;
}

function renderBanner(alerts) {
  // Active alerts of the store, pushed with the live state (Server-Sent Events): shown at once, gone when cleared.
  const banner = document.getElementById("alert-banner");
  if (!banner) return;
  const list = banner.querySelector("ul");
  list.replaceChildren();
  for (const a of alerts) {
    const item = document.createElement("li");
    item.dataset.rule = a.rule;
    const name = document.createElement("strong");
    name.textContent = a.rule;
    item.append(name, text(" · " + a.text + " · since " + a.since + (a.acknowledged ? " · acknowledged" : "")));
    list.append(item);
  }
  banner.hidden = alerts.length === 0;
}

function renderQueues(queues) {
  const table = document.querySelector("#live-queues tbody");
  if (!table) return;
  table.replaceChildren();
  for (const q of queues) {
    const row = table.insertRow();
    row.dataset.zone = q.zone;
    cell(row, q.zone);
    cell(row, q.length, "num");
    cell(row, q.left_per_min == null ? "–" : q.left_per_min.toFixed(1), "num");
    cell(row, q.wait, "num wait");
  }
  document.getElementById("live-queues-card").hidden = queues.length === 0;
}

function followLive() {
  const map = document.getElementById("live-map");
  if (!map || !map.dataset.stream) return;
  const initial = document.getElementById("live-initial");
  if (initial) renderLive(JSON.parse(initial.textContent));
  const status = document.getElementById("live-connection");
  const source = new EventSource(map.dataset.stream);
  source.addEventListener("open", () => { status.textContent = "live"; status.className = "badge online"; });
  source.addEventListener("error", () => { status.textContent = "reconnecting"; status.className = "badge stale"; });
  source.addEventListener("message", (event) => renderLive(JSON.parse(event.data)));
}

function sortable(table) {
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((th, index) => th.addEventListener("click", () => {
    const ascending = th.getAttribute("aria-sort") !== "ascending";
    headers.forEach((h) => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    const key = (row) => {
      const td = row.cells[index];
      const raw = td.dataset.value ?? td.textContent.trim();
      const number = parseFloat(raw);
      return isNaN(number) ? raw.toLowerCase() : number;
    };
    rows.sort((a, b) => {
      const ka = key(a), kb = key(b);
      const order = ka < kb ? -1 : ka > kb ? 1 : 0;
      return ascending ? order : -order;
    });
    body.append(...rows);
  }));
}

// A form that destroys something (data-confirm) asks first; without script it posts at once.
function confirmFirst(form) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  drawAll();
  followLive();
  document.querySelectorAll("table.sortable").forEach(sortable);
  document.querySelectorAll("form[data-confirm]").forEach(confirmFirst);
});
