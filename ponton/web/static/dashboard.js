// ponton's dashboard: pages filled from the JSON API with the session's cookie; every change sends the session's
// CSRF token. Text from the server only ever becomes text (textContent), never markup.
"use strict";

const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
const MAX_LOG_LINES = 500;
const HOUR = 3600;

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

async function request(method, path, body) {
  const options = {method, credentials: "same-origin", headers: {"X-CSRF-Token": csrf}};
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  const response = await fetch("/api/v1" + path, options);
  if (response.status === 401) location.assign("/login");
  return response;
}

async function read(path) {
  const response = await request("GET", path);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error);
  return data;
}

// A change: its progress lines go to the progress pane as they come; it resolves at {"ok": true}.
async function change(method, path, body) {
  const pane = document.getElementById("progress");
  const output = document.getElementById("progress-output");
  pane.hidden = false;
  output.textContent = "";
  const show = (line) => { output.append(line + "\n"); output.scrollTop = output.scrollHeight; };
  const response = await request(method, path, body);
  if (!(response.headers.get("content-type") || "").startsWith("application/x-ndjson")) {
    const error = (await response.json()).error;
    show("error: " + error);
    throw new Error(error);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "", end = null;
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const message = JSON.parse(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      if ("line" in message) show(message.line); else end = message;
    }
  }
  if (!end || !end.ok) {
    const error = end ? end.error : "the connection ended before the command did";
    show("error: " + error);
    throw new Error(error);
  }
  show("done");
}

function fill(table, rows) {
  const body = table.tBodies[0];
  body.replaceChildren(...rows);
  if (!rows.length) body.append(el("tr", {}, el("td", {colspan: table.tHead.rows[0].cells.length, class: "muted"}, "none")));
}

function failed(where, error) {
  where.replaceChildren(el("p", {class: "error", role: "alert"}, error.message));
}

// The apps page: every app one may use, with its state, URL and last deploy.
async function appsPage() {
  const table = document.getElementById("apps");
  try {
    const names = await read("/apps");
    const rows = [];
    for (const name of names) {  // one at a time: a user's commands running at once are bounded
      const info = await read(`/apps/${encodeURIComponent(name)}`);
      rows.push(el("tr", {"data-app": name},
        el("td", {}, el("a", {href: `/apps/${encodeURIComponent(name)}`}, name)),
        el("td", {}, el("span", {class: `badge ${info.state.replace(" ", "-")}`}, info.state)),
        el("td", {}, el("a", {href: info.url, rel: "noreferrer"}, info.url)),
        el("td", {}, info.release || "-"),
        el("td", {}, info.deployed || "-")));
      fill(table, rows);
    }
    fill(table, rows);
  } catch (error) {
    failed(table.tBodies[0], error);
  }
}

// The app page.
const app = document.body.dataset.app;
const base = app ? `/apps/${encodeURIComponent(app)}` : "";

async function refreshSummary() {
  const info = await read(base);
  const state = document.getElementById("state");
  state.textContent = info.state;
  state.className = `badge ${info.state.replace(" ", "-")}`;
  document.getElementById("summary").replaceChildren(
    el("a", {href: info.url, rel: "noreferrer"}, info.url), ` · ${info.release || "not deployed"}`,
    info.deployed ? ` deployed ${info.deployed}` : "",
    ` · ${Object.entries(info.formation).map(([k, v]) => `${k}=${v}`).join(" ")}`);
}

async function refreshInstances() {
  const rows = (await read(`${base}/ps`)).map((i) => el("tr", {},
    el("td", {}, i.instance), el("td", {}, i.release), el("td", {}, i.state), el("td", {}, i.health),
    el("td", {}, i.uptime), el("td", {}, i.restarts)));
  fill(document.getElementById("instances"), rows);
}

async function refreshReleases() {
  const rows = (await read(`${base}/releases`)).map((r) => el("tr", {"data-version": r.version},
    el("td", {}, r.version), el("td", {class: "mono"}, r.source.slice(0, 40)), el("td", {}, r.description),
    el("td", {}, r.created), el("td", {}, el("span", {class: `badge ${r.status}`}, r.status)),
    el("td", {}, r.status === "current" ? "" : el("button", {class: "rollback", onclick: () => rollback(r.version)},
      "Roll back"))));
  fill(document.getElementById("releases"), rows);
}

async function rollback(version) {
  if (!confirm(`Roll ${app} back to ${version}, its code and config?`)) return;
  await act(() => change("POST", `${base}/rollback`, {version}));
}

async function refreshConfig() {
  const config = await read(`${base}/config`);
  const rows = Object.entries(config).map(([key, value]) => {
    const cell = el("td", {class: "mono secret", "data-key": key}, "••••••••");
    const reveal = el("button", {class: "reveal", onclick: () => {
      const shown = reveal.textContent === "Hide";
      cell.textContent = shown ? "••••••••" : value;
      reveal.textContent = shown ? "Reveal" : "Hide";
    }}, "Reveal");
    const edit = el("button", {onclick: () => {
      const form = document.getElementById("config-form");
      form.key.value = key;
      form.value.value = value;
      form.value.focus();
    }}, "Edit");
    const unset = el("button", {onclick: async () => {
      if (confirm(`Unset ${key}? The app is rolled onto new instances without it.`)) {
        await act(() => change("DELETE", `${base}/config/${encodeURIComponent(key)}`));
      }
    }}, "Unset");
    return el("tr", {}, el("td", {class: "mono"}, key), cell, el("td", {}, reveal, edit, unset));
  });
  fill(document.getElementById("config"), rows);
}

async function refreshDomains() {
  const list = document.getElementById("domains");
  const domains = await read(`${base}/domains`);
  list.replaceChildren(...domains.map((domain, index) => el("li", {}, domain, index === 0 ? el("span", {class: "muted"}, " (ponton's)") :
    el("button", {onclick: async () => {
      if (confirm(`Stop serving ${app} at ${domain}?`)) await act(() => change("DELETE", `${base}/domains/${encodeURIComponent(domain)}`));
    }}, "Remove"))));
}

// A change, then every part of the page that it may have changed.
async function act(run) {
  try {
    await run();
  } catch (error) {
    return;  // shown in the progress pane
  } finally {
    await refreshAll();
  }
}

async function refreshAll() {
  for (const refresh of [refreshSummary, refreshInstances, refreshReleases, refreshConfig, refreshDomains]) {
    try {
      await refresh();
    } catch (error) {
      console.error(error);
    }
  }
}

function followLogs() {
  const pre = document.getElementById("logs");
  const state = document.getElementById("logs-state");
  const source = new EventSource(`/api/v1${base}/logs?follow=true&lines=100`);
  source.onopen = () => { state.textContent = "live"; };
  source.onerror = () => { state.textContent = "reconnecting…"; };
  source.onmessage = (event) => {
    pre.append(JSON.parse(event.data) + "\n");
    while (pre.childNodes.length > MAX_LOG_LINES) pre.firstChild.remove();
    pre.scrollTop = pre.scrollHeight;
  };
  source.addEventListener("failed", (event) => {
    state.textContent = JSON.parse(event.data).error;
    source.close();
  });
}

// Plots: SVG drawn here, one polyline and its points per series, over the last hour.
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 400, HEIGHT = 160, LEFT = 44, BOTTOM = 18, TOP = 8;

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function plot(id, now, series) {
  const target = document.getElementById(id);
  const values = series.flatMap((s) => s.points.map((p) => p[1]));
  const top = Math.max(1, ...values) * 1.1;  // an idle app's plot still has a scale
  const x = (t) => LEFT + (WIDTH - LEFT - 4) * (1 - (now - t) / HOUR);
  const y = (v) => HEIGHT - BOTTOM - (HEIGHT - BOTTOM - TOP) * (v / top);
  const nodes = [];
  for (const fraction of [0, 0.5, 1]) {
    const value = top * fraction;
    nodes.push(svg("line", {x1: LEFT, x2: WIDTH - 4, y1: y(value), y2: y(value), class: "grid"}),
      svg("text", {x: LEFT - 4, y: y(value) + 4, class: "tick", "text-anchor": "end"}, value < 10 ? value.toFixed(1) : Math.round(value)));
  }
  nodes.push(svg("text", {x: LEFT, y: HEIGHT - 4, class: "tick"}, "-60 min"),
    svg("text", {x: WIDTH - 4, y: HEIGHT - 4, class: "tick", "text-anchor": "end"}, "now"));
  let count = 0, last = null;
  for (const s of series) {
    if (!s.points.length) continue;
    nodes.push(svg("polyline", {points: s.points.map(([t, v]) => `${x(t)},${y(v)}`).join(" "), class: `line ${s.name}`}));
    for (const [t, v] of s.points) nodes.push(svg("circle", {cx: x(t), cy: y(v), r: 1.6, class: `point ${s.name}`}));
    count += s.points.length;
    last = last ?? s.points[s.points.length - 1][1];
  }
  if (!count) nodes.push(svg("text", {x: WIDTH / 2, y: HEIGHT / 2, class: "tick", "text-anchor": "middle"}, "no samples yet"));
  target.replaceChildren(...nodes);
  target.dataset.points = count;
  target.dataset.last = last ?? "";
}

async function refreshPlots() {
  let interval = 10;
  try {
    const history = await read(`${base}/metrics/history?minutes=60`);
    interval = history.interval_seconds;
    const now = Date.now() / 1000;
    const points = (field, scale = 1) => history.points.filter((p) => p[field] !== null).map((p) => [p.time, p[field] * scale]);
    plot("plot-rps", now, [{name: "rps", points: points("rps")}]);
    plot("plot-latency", now, [{name: "p50", points: points("p50_ms")}, {name: "p99", points: points("p99_ms")}]);
    plot("plot-cpu", now, [{name: "cpu", points: points("cpu_percent")}]);
    plot("plot-memory", now, [{name: "memory", points: points("memory_bytes", 1 / 2 ** 20)}]);
  } catch (error) {
    console.error(error);
  }
  setTimeout(refreshPlots, Math.max(2, Math.min(interval, 30)) * 1000);
}

function appPage() {
  document.getElementById("config-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    await act(() => change("POST", `${base}/config`, {values: {[form.key.value]: form.value.value}}));
    form.reset();
  });
  document.getElementById("domain-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    await act(() => change("POST", `${base}/domains`, {domain: form.domain.value}));
    form.reset();
  });
  refreshAll();
  refreshPlots();
  followLogs();
  setInterval(() => refreshInstances().catch(console.error), 15000);
}

if (document.body.dataset.page === "apps") appsPage();
if (document.body.dataset.page === "app") appPage();
