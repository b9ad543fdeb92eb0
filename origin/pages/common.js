// Shared helpers for the mediacdn pages (no framework: plain DOM).
"use strict";

const mediacdn = {
  // The API key the upload page keeps in this browser (the player uses it to mint tokens).
  KEY_STORE: "mediacdn.api-key",
  config() {
    return JSON.parse(document.getElementById("config").textContent);
  },
  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  },
  bytes(n) {
    if (!Number.isFinite(n)) return "–";
    const units = ["B", "kB", "MB", "GB", "TB"];
    let i = 0;
    while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
    return `${n.toFixed(i && n < 10 ? 1 : 0)} ${units[i]}`;
  },
  bits(bitsPerSecond) {
    if (!Number.isFinite(bitsPerSecond)) return "–";
    if (bitsPerSecond >= 1e6) return `${(bitsPerSecond / 1e6).toFixed(2)} Mbit/s`;
    return `${Math.round(bitsPerSecond / 1e3)} kbit/s`;
  },
  percent(ratio, digits = 0) {
    return ratio === null || ratio === undefined || !Number.isFinite(ratio)
      ? "–" : `${(ratio * 100).toFixed(digits)}%`;
  },
  // Poll a video every second until it is ready or failed; `onStatus` sees every answer.
  async followVideo(videoId, onStatus) {
    for (;;) {
      const response = await fetch(`/api/videos/${videoId}`, { cache: "no-store" });
      if (!response.ok) throw new Error(await mediacdn.errorMessage(response));
      const video = await response.json();
      onStatus(video);
      if (video.status === "ready" || video.status === "failed") return video;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  },
  // The message of a JSON API error body, or the HTTP status.
  async errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error) return `${body.error.message} (${body.error.code})`;
    } catch (_) { /* not JSON */ }
    return `HTTP ${response.status}`;
  },
};
