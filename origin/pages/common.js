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
  // Whether an HTTP answer may be another when asked again: a 408 (timeout), a 429 (too many
  // requests), a 5xx (the server failing or restarting).
  mayChange(status) {
    return status === 408 || status === 429 || status >= 500;
  },
  sleep(seconds) {
    return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  },
  // Seconds to wait before asking again after `tries` failures in a row: 1, 2, 4, 8, then
  // every 10 (the player's retries after hls.js gave up on the network too).
  retryWait(tries) {
    const waits = [1, 2, 4, 8, 10];
    return waits[Math.min(tries, waits.length - 1)];
  },
  // The answer to a GET of `url` that asking again would not change: no answer at all (a
  // dropped connection, the server restarting), a 408, 429 or 5xx is asked again after
  // retryWait (`onTrouble` sees what went wrong and the seconds until the next ask).
  async settledAnswer(url, onTrouble = () => {}) {
    for (let tries = 0; ; tries += 1) {
      let trouble;
      try {
        const response = await fetch(url, { cache: "no-store" });
        if (!mediacdn.mayChange(response.status)) return response;
        trouble = await mediacdn.errorMessage(response);
      } catch (error) {
        trouble = error.message;
      }
      const wait = mediacdn.retryWait(tries);
      onTrouble(trouble, wait);
      await mediacdn.sleep(wait);
    }
  },
  // Poll a video every second until it is ready or failed; `onStatus` sees every answer,
  // `onTrouble` each time the server could not answer for now (it is asked again). Throws
  // with the API's message on an answer that will not change (a 404, say).
  async followVideo(videoId, onStatus, onTrouble) {
    for (;;) {
      const response = await mediacdn.settledAnswer(`/api/videos/${videoId}`, onTrouble);
      if (!response.ok) throw new Error(await mediacdn.errorMessage(response));
      const video = await response.json();
      onStatus(video);
      if (video.status === "ready" || video.status === "failed") return video;
      await mediacdn.sleep(1);
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
