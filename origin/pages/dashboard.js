// The dashboard: POPs on an equirectangular world map drawn here (land outlines from the
// world-atlas npm package, served by the origin), POP and video tables, and the origin
// offload; all updated by the origin's Server-Sent Events stream (/api/dashboard/events).
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const PX_PER_DEGREE = 2;
const LAT_TOP = 78; // the map shows 78°N to 60°S: the POPs' world, without the polar rows
const map = $("map");
const dashboard = { snapshots: 0, last: null };
window.dashboard = dashboard;

const x = (lon) => (lon + 180) * PX_PER_DEGREE;
const y = (lat) => (LAT_TOP - lat) * PX_PER_DEGREE;

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

// One SVG path for polygon rings of [lon, lat] points; a ring that jumps across the
// antimeridian starts a new subpath instead of drawing a line across the map.
function ringsPath(polygons) {
  let d = "";
  for (const polygon of polygons) {
    for (const ring of polygon) {
      let previous = null;
      for (const [lon, lat] of ring) {
        const jump = previous === null || Math.abs(lon - previous) > 180;
        d += `${jump ? "M" : "L"}${x(lon).toFixed(1)},${y(lat).toFixed(1)}`;
        previous = lon;
      }
      d += "Z";
    }
  }
  return d;
}

async function drawBaseMap() {
  map.append(svg("rect", { class: "ocean", x: 0, y: 0, width: 360 * PX_PER_DEGREE, height: 180 * PX_PER_DEGREE }));
  const grid = [];
  for (let lon = -150; lon <= 150; lon += 30) grid.push(`M${x(lon)},0V${y(-90)}`);
  for (let lat = -60; lat <= 60; lat += 30) grid.push(`M0,${y(lat)}H${x(180)}`);
  try {
    const response = await fetch("/static/vendor/land-110m.json");
    if (!response.ok) throw new Error(await mediacdn.errorMessage(response));
    const topo = await response.json();
    const land = topojson.feature(topo, topo.objects.land);
    const polygons = [];
    for (const feature of land.features || [land]) {
      const g = feature.geometry;
      if (g.type === "Polygon") polygons.push(g.coordinates);
      else if (g.type === "MultiPolygon") polygons.push(...g.coordinates);
    }
    map.append(svg("path", { class: "land", d: ringsPath(polygons) }));
  } catch (error) {
    showNotice(`The land outlines could not be loaded (${error.message}); POPs are still placed by latitude and longitude.`);
  }
  map.append(svg("path", { class: "grid", d: grid.join("") }));
  map.append(svg("g", { id: "pops-layer" }));
}

function showNotice(text) {
  $("notice").hidden = !text;
  $("notice").textContent = text || "";
}

function hitColour(ratio, requests) {
  return requests ? `hsl(${Math.round(ratio * 120)} 70% ${ratio > .8 ? 38 : 46}%)` : "#ffffff";
}

// Labels go beside their marker where they cover no other label or marker, else lower down
// with a leader line: European POPs sit a few pixels apart.
function placeLabels(items) {
  const taken = items.map((i) => ({ x: i.cx - i.r, y: i.cy - i.r, w: 2 * i.r, h: 2 * i.r }));
  const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  for (const item of items) {
    const w = item.text.length * 5.4 + 4;
    const h = 11;
    const tries = [[item.r + 3, -5], [-item.r - 3 - w, -5], [item.r + 2, -item.r - 11], [item.r + 2, item.r]];
    for (let k = 1; k <= 6; k += 1) tries.push([item.r + 8, item.r + k * 12]);
    let chosen = tries[tries.length - 1];
    for (const t of tries) {
      const box = { x: item.cx + t[0], y: item.cy + t[1], w, h };
      if (box.x >= 0 && box.x + w <= 720 && !taken.some((b) => overlaps(b, box))) { chosen = t; break; }
    }
    const box = { x: item.cx + chosen[0], y: item.cy + chosen[1], w, h };
    taken.push(box);
    item.label = { x: box.x + 2, y: box.y + 9, leader: chosen[1] > item.r + 6 };
  }
}

function drawPops(pops) {
  const layer = $("pops-layer");
  layer.replaceChildren();
  const items = pops.map((p) => ({
    pop: p, cx: x(p.lon), cy: y(p.lat),
    r: (p.tier === "shield" ? 5 : 6) + Math.min(10, Math.sqrt(p.requests_per_s) * 1.5),
    text: `${p.name} ${p.requests ? mediacdn.percent(p.hit_ratio) : ""}`.trim(),
  }));
  placeLabels([...items].sort((a, b) => a.cy - b.cy));
  for (const item of items) {
    const p = item.pop;
    const g = svg("g", { class: `pop${p.healthy ? "" : " down"}`, "data-pop": p.name });
    const fill = hitColour(p.hit_ratio, p.requests);
    const title = svg("title");
    title.textContent = `${p.name} (${p.tier}) — ${p.healthy ? "healthy" : "DOWN"}; ${p.requests} requests, hit ${mediacdn.percent(p.hit_ratio, 1)}, ${p.requests_per_s.toFixed(1)} req/s, ${mediacdn.bits(p.bytes_per_s * 8)}`;
    g.append(title);
    if (p.tier === "shield") {
      g.append(svg("rect", { x: item.cx - item.r, y: item.cy - item.r, width: item.r * 2, height: item.r * 2, fill }));
    } else {
      g.append(svg("circle", { cx: item.cx, cy: item.cy, r: item.r, fill }));
    }
    if (item.label.leader) {
      g.append(svg("line", { class: "leader", x1: item.cx, y1: item.cy, x2: item.label.x - 2, y2: item.label.y - 4 }));
    }
    const text = svg("text", { x: item.label.x, y: item.label.y });
    text.textContent = item.text;
    g.append(text);
    layer.append(g);
  }
}

function cell(text, className = "") {
  return mediacdn.el("td", { text, class: className });
}

function meter(ratio) {
  const outer = mediacdn.el("span", { class: "meter", title: mediacdn.percent(ratio, 1) });
  const inner = mediacdn.el("span");
  inner.style.width = `${Math.min(100, Math.max(0, ratio * 100)).toFixed(1)}%`;
  if (ratio > .85) inner.style.background = "var(--bad)";
  outer.append(inner);
  return outer;
}

function drawPopTable(pops) {
  $("pops").replaceChildren(...pops.map((p) => {
    const name = mediacdn.el("td", {}, mediacdn.el("span", { class: `dot ${p.healthy ? "up" : "down"}`, title: p.healthy ? "healthy" : "down" }), `${p.name}${p.tier === "shield" ? " (shield)" : ""}`);
    const load = mediacdn.el("td", {}, meter(p.load));
    const row = mediacdn.el("tr", { "data-pop": p.name }, name,
      cell(String(p.requests), "num requests"),
      cell(p.requests ? mediacdn.percent(p.hit_ratio) : "–", "num"),
      cell(p.requests_per_s.toFixed(1), "num"),
      cell((p.bytes_per_s * 8 / 1e6).toFixed(2), "num"),
      load);
    return row;
  }));
  if (!pops.length) $("pops").append(mediacdn.el("tr", {}, mediacdn.el("td", { colspan: "6", class: "muted", text: "No POP is reporting to the router." })));
}

function drawVideos(videos) {
  $("videos").replaceChildren(...videos.map((v) => {
    const bar = mediacdn.el("progress", { max: "100", value: String(v.progress) });
    const link = v.status === "ready" ? mediacdn.el("a", { href: `/watch/${v.id}`, text: "watch" }) : "";
    return mediacdn.el("tr", { "data-video": v.id },
      cell(v.title || "(untitled)"), cell(v.id, "muted"),
      cell(v.status, `status-${v.status}`),
      mediacdn.el("td", {}, bar, ` ${Math.round(v.progress)}%`),
      mediacdn.el("td", {}, link));
  }));
  if (!videos.length) $("videos").append(mediacdn.el("tr", {}, mediacdn.el("td", { colspan: "5", class: "muted", text: "No videos yet: upload one." })));
}

function drawKpis(snapshot) {
  const edges = snapshot.pops.filter((p) => p.tier === "edge");
  const off = snapshot.offload;
  $("kpi-offload").textContent = mediacdn.percent(off.requests, 1);
  $("kpi-offload-detail").textContent = off.edge_requests
    ? `of requests · ${mediacdn.percent(off.bytes, 1)} of bytes` : "no edge traffic yet";
  $("kpi-offload-detail").title = `${off.origin_requests} of ${off.edge_requests} edge requests and ${mediacdn.bytes(off.origin_bytes)} of ${mediacdn.bytes(off.edge_bytes)} reached the origin`;
  $("kpi-requests").textContent = String(off.edge_requests);
  const rps = edges.reduce((s, p) => s + p.requests_per_s, 0);
  $("kpi-rate").textContent = `${rps.toFixed(1)} requests/s now`;
  $("kpi-egress").textContent = mediacdn.bits(edges.reduce((s, p) => s + p.bytes_per_s * 8, 0));
  $("kpi-served").textContent = `${mediacdn.bytes(off.edge_bytes)} served in all`;
  const hits = edges.reduce((s, p) => s + p.requests * p.hit_ratio, 0);
  $("kpi-hit").textContent = off.edge_requests ? mediacdn.percent(hits / off.edge_requests, 1) : "–";
  $("kpi-pops").textContent = `${snapshot.pops.filter((p) => p.healthy).length} / ${snapshot.pops.length}`;
  $("kpi-router").textContent = snapshot.router.url ? `router ${snapshot.router.url.replace(/^https?:\/\//, "")}` : "no router";
}

function render(snapshot) {
  dashboard.snapshots += 1;
  dashboard.last = snapshot;
  showNotice(snapshot.router.status === "ok" ? "" : snapshot.router.message);
  drawKpis(snapshot);
  drawPops(snapshot.pops);
  drawPopTable(snapshot.pops);
  drawVideos(snapshot.videos);
  $("status-line").textContent = `live · ${new Date(snapshot.time * 1000).toLocaleTimeString()}`;
}

(async () => {
  $("status-line").textContent = "connecting …";
  await drawBaseMap();
  const events = new EventSource("/api/dashboard/events");
  events.addEventListener("snapshot", (event) => render(JSON.parse(event.data)));
  events.addEventListener("open", () => { $("status-line").textContent = "live"; });
  events.addEventListener("error", () => { $("status-line").textContent = "reconnecting …"; });
})();
