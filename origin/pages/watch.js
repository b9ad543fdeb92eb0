// The player page: hls.js plays the video straight from the origin or through the CDN (the
// router's content-steered master for the chosen viewer location: a pathway per nearby POP,
// best first, so hls.js moves on if that POP fails); the panel shows what it does.
"use strict";

const cfg = mediacdn.config();
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const video = $("video");
// Seconds playback may stand still with nothing loading before hls.js's loaders restart; when
// playback still stands there after that, at a video's last segment, that segment cannot
// be played (hls.js dropped it as unparsable) and the media's end never comes: it stops.
const STUCK_S = 4;
// Fatal media errors in a row that hls.js is asked to recover from (the second also swapping
// the audio codec, as hls.js advises) before the page gives up: segments it cannot parse would
// otherwise start the video again every few seconds for ever. Playback that gets MEDIA_PAST_S
// seconds past where the last one happened starts the count again.
const MEDIA_RECOVERIES = 2;
const MEDIA_PAST_S = 5;
// A live stream back on the network more than REJOIN_S seconds behind where hls.js starts one
// (its newest playlist's edge less hls.js's target latency) plays on from there, not from where
// the connection dropped: looked at for REJOIN_FOR_S seconds, as its playlists come in again.
const REJOIN_S = 3;
const REJOIN_FOR_S = 10;
// What the page says while playback waits with the browser off every network.
const OFFLINE = "Offline — playback goes on once the network is back";
// Viewer locations to route from (the router sends each to its nearest healthy POP).
const PLACES = [
  ["Paris", 48.86, 2.35], ["London", 51.51, -0.13], ["New York", 40.71, -74.01],
  ["San Francisco", 37.77, -122.42], ["São Paulo", -23.55, -46.63], ["Tokyo", 35.68, 139.69],
  ["Singapore", 1.35, 103.82], ["Sydney", -33.87, 151.21],
];
// What the page did, for people (the panel) and for the browser tests (window.player).
const player = {
  hls: null, video, source: null, fatal: null, errors: [], frags: [],
  poster: null, storyboard: null, preview: null, latency: null,
  started: false, stalls: 0, stalledAt: [], stalledS: 0, stalledFor: () => 0, restarts: 0,
  retries: 0, lost: null, recoveries: 0, rejoins: [],
  levelSwitches: [], audioSwitches: [], subtitleSwitches: [], last: null,
};
window.player = player;

function overlay(text) {
  $("overlay").hidden = !text;
  $("overlay").textContent = text || "";
}

// A signed video plays with a token in its path, right after the video's directory: every
// playlist and segment URI below it carries the token without rewriting.
function playbackPath(token) {
  return `/${cfg.live ? "live" : "vod"}/${cfg.video_id}/${token ? `~${token}/` : ""}master.m3u8`;
}

// A token for a signed video or live stream: ?token=… (shared by whoever minted it), else one minted with the
// API key this browser keeps from the upload page. Throws with what to do when neither works.
async function playbackToken() {
  if (params.get("token")) return params.get("token");
  const key = localStorage.getItem(mediacdn.KEY_STORE);
  if (!key) throw new Error("This video is signed: open it with ?token=…, or save an API key on the upload page.");
  const minter = cfg.live ? `/api/live/${cfg.video_id}` : `/api/videos/${cfg.video_id}`;
  const response = await fetch(`${minter}/playback-tokens`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify({ ttl_s: 3600 }),
  });
  if (!response.ok) throw new Error(`No playback token: ${await mediacdn.errorMessage(response)}`);
  return (await response.json()).token;
}

// Where to play from: { source, geo }, geo null for the origin itself.
function chooseSource(token) {
  const select = $("delivery");
  const origin = { source: `${location.origin}${playbackPath(token)}`, geo: null };
  select.append(mediacdn.el("option", { value: "origin", text: "Origin (no CDN)" }));
  if (!cfg.router_url) {
    select.disabled = true;
    return origin;
  }
  let geo = params.get("geo");
  for (const [name, lat, lon] of PLACES) {
    select.append(mediacdn.el("option", { value: `${lat},${lon}`, text: `CDN · viewer in ${name}` }));
  }
  if (geo && ![...select.options].some((o) => o.value === geo)) {
    select.append(mediacdn.el("option", { value: geo, text: `CDN · viewer at ${geo}` }));
  }
  if (params.get("via") === "origin") geo = null;
  else geo = geo || `${PLACES[0][1]},${PLACES[0][2]}`;
  select.value = geo || "origin";
  select.addEventListener("change", () => {
    const next = new URLSearchParams();
    if (select.value === "origin") next.set("via", "origin");
    else next.set("geo", select.value);
    location.search = next.toString();
  });
  if (!geo) return origin;
  const source = `${cfg.router_url}/steered${playbackPath(token)}?geo=${encodeURIComponent(geo)}`;
  return { source, geo };
}

// A file of the video (`path` as the API names it, /vod/ID/…) from where the video plays: the
// origin, or the viewer's POP by the router's redirect; with the token in its path if signed.
function assetUrl(path, token, geo) {
  const file = path.slice(`/vod/${cfg.video_id}/`.length);
  const local = `/vod/${cfg.video_id}/${token ? `~${token}/` : ""}${file}`;
  if (!geo) return `${location.origin}${local}`;
  return `${cfg.router_url}/r${local}?geo=${encodeURIComponent(geo)}`;
}

// The poster now, and seek previews on the timeline once the storyboard track has loaded (the
// video plays without them if it cannot).
async function showThumbnails(thumbnails, token, geo) {
  if (!thumbnails) return;
  video.poster = assetUrl(thumbnails.poster, token, geo);
  player.poster = video.poster;
  try {
    const response = await fetch(assetUrl(thumbnails.storyboard, token, geo));
    if (!response.ok) throw new Error(await mediacdn.errorMessage(response));
    const cues = storyboard.parse(await response.text(), response.url);
    if (!cues.length) throw new Error("the storyboard track has no cues");
    player.storyboard = cues;
    const parts = {
      bar: $("timeline"), played: $("timeline-played"), preview: $("timeline-preview"),
      picture: $("timeline-picture"), label: $("timeline-time"),
    };
    storyboard.attach(video, cues, parts, (shown) => { player.preview = shown; });
  } catch (error) {
    player.errors.push({ what: `storyboard: ${error.message}`, fatal: false });
  }
}

function header(details, name) {
  if (!details) return null;
  if (typeof details.getResponseHeader === "function") return details.getResponseHeader(name);
  if (details.headers && typeof details.headers.get === "function") return details.headers.get(name);
  return null;
}

// The node that answered: the last hop of Via ("1.1 shield, 1.1 paris" → paris), else the origin.
function answeredBy(via) {
  if (!via) return "origin";
  const hops = via.split(",").map((h) => h.trim().split(/\s+/)[1]).filter(Boolean);
  return hops.length ? hops[hops.length - 1] : "origin";
}

// a rendition is called by its shorter side, as the ladder names it: 720p is 1280×720, or
// 720×1280 for an upright video
function levelSize(level) {
  const side = level.width && level.height ? Math.min(level.width, level.height) : level.height;
  return side ? `${side}p` : level.name || "?";
}

function levelLabel(level) {
  return `${levelSize(level)} · ${Math.round(level.bitrate / 1000)} kbit/s`;
}

function trackLabel(track) {
  return track.name && track.lang && track.name !== track.lang
    ? `${track.name} (${track.lang})` : track.name || track.lang || `track ${track.id}`;
}

function fillMenus(hls) {
  const quality = $("quality");
  quality.replaceChildren(mediacdn.el("option", { value: "-1", text: "Auto" }));
  hls.levels
    .map((level, index) => [level, index])
    .sort((a, b) => b[0].bitrate - a[0].bitrate)
    .forEach(([level, index]) => quality.append(mediacdn.el("option", { value: String(index), text: levelLabel(level) })));
  quality.disabled = false;
  // a smooth switch: what is buffered plays on, the new rung from the next segment (an
  // immediate switch would empty the buffer and stall the picture a viewer is watching)
  quality.onchange = () => { hls.nextLevel = Number(quality.value); };
}

function fillAudio(hls) {
  const audio = $("audio");
  audio.replaceChildren(...hls.audioTracks.map((t, i) => mediacdn.el("option", { value: String(i), text: trackLabel(t) })));
  audio.value = String(hls.audioTrack);
  audio.disabled = hls.audioTracks.length < 2;
  audio.onchange = () => { hls.audioTrack = Number(audio.value); };
}

function fillSubtitles(hls) {
  const subtitles = $("subtitles");
  subtitles.replaceChildren(mediacdn.el("option", { value: "-1", text: "Off" }),
    ...hls.subtitleTracks.map((t, i) => mediacdn.el("option", { value: String(i), text: trackLabel(t) })));
  subtitles.value = String(hls.subtitleTrack);
  subtitles.disabled = hls.subtitleTracks.length === 0;
  subtitles.onchange = () => {
    const index = Number(subtitles.value);
    hls.subtitleDisplay = index >= 0;
    hls.subtitleTrack = index;
  };
}

function recordFragment(frag, part, details) {
  const loaded = part || frag;  // a low-latency stream's part, or a whole segment
  const stats = loaded.stats || {};
  const loading = stats.loading || {};
  const row = {
    type: frag.type,
    level: frag.level,
    url: loaded.url,
    file: loaded.url.split("?")[0].split("/").slice(-2).join("/"),
    pop: answeredBy(header(details, "via")),
    cache: header(details, "x-cache") || "–",
    bytes: stats.total || stats.loaded || 0,
    ms: loading.end && loading.start ? Math.round(loading.end - loading.start) : null,
  };
  player.frags.push(row);
  player.last = row;
  const tr = mediacdn.el("tr", {},
    mediacdn.el("td", { text: row.file }),
    mediacdn.el("td", { text: row.pop }),
    mediacdn.el("td", { text: row.cache, class: `cache-${row.cache}` }),
    mediacdn.el("td", { class: "num", text: (row.bytes / 1000).toFixed(row.bytes < 10000 ? 1 : 0) }),
    mediacdn.el("td", { class: "num", text: row.ms === null ? "–" : String(row.ms) }));
  const body = $("frags");
  body.prepend(tr);
  while (body.rows.length > 8) body.deleteRow(-1);
  $("live-segment").textContent = row.file;
  $("live-pop").textContent = row.pop;
  $("live-cache").textContent = row.cache;
  $("live-cache").className = `cache-${row.cache}`;
}

// Where a seek can reach at most: the end of the media's last seekable range.
function mediaEnd() {
  const seekable = video.seekable;
  return seekable.length ? seekable.end(seekable.length - 1) : 0;
}

function bufferAhead() {
  const t = video.currentTime;
  for (let i = 0; i < video.buffered.length; i += 1) {
    if (video.buffered.start(i) <= t + 0.25 && t <= video.buffered.end(i)) return video.buffered.end(i) - t;
  }
  return 0;
}

function updatePanel() {
  const hls = player.hls;
  if (!hls) return;
  const level = hls.levels[hls.currentLevel];
  if (level) {
    $("live-level").textContent = `${hls.autoLevelEnabled ? "Auto → " : ""}${levelSize(level)}`;
    $("live-bitrate").textContent = mediacdn.bits(level.bitrate);
  }
  $("live-bandwidth").textContent = mediacdn.bits(hls.bandwidthEstimate);
  $("live-buffer").textContent = `${bufferAhead().toFixed(1)} s`;
  $("live-position").textContent = `${video.currentTime.toFixed(1)} / ${(video.duration || 0).toFixed(1)} s`;
  const track = hls.audioTracks[hls.audioTrack];
  $("live-audio").textContent = track ? trackLabel(track) : "–";
  // live: how far behind the wall clock the picture is (from EXT-X-PROGRAM-DATE-TIME)
  const playing = cfg.live && hls.playingDate ? hls.playingDate.getTime() : null;
  player.latency = playing ? (Date.now() - playing) / 1000 : null;
  $("live-latency").textContent = player.latency === null ? "–" : `${player.latency.toFixed(2)} s`;
}

// Whether a network error was an answer that asking again will not change (a 4xx but 408 and
// 429), not a connection that failed (no status) or a server failing.
function finalAnswer(data) {
  const code = data.response ? data.response.code : 0;
  return code >= 400 && !mediacdn.mayChange(code);
}

// Playback stopped for good, saying why.
function stopPlayback(hls, what) {
  player.fatal = player.fatal || what;
  hls.stopLoad();
  overlay(`Playback stopped: ${what}`);
}

// Where playback stands still at a video's last segment, which hls.js dropped as unparsable
// (`unparsable`: the numbers of those segments; it plays past one mid-way), that segment;
// else null.
function brokenEnd(hls, unparsable) {
  const details = hls.latestLevelDetails;
  if (!details || details.live || !details.fragments.length) return null;
  const last = details.fragments[details.fragments.length - 1];
  if (!unparsable.has(last.sn)) return null;
  const ahead = video.currentTime + bufferAhead();
  return video.currentTime >= last.start - 0.5 && ahead < last.start + last.duration - 0.25 ? last : null;
}

// After hls.js gave up on the network (a dropped connection; every POP and the origin out of
// reach): wait (mediacdn.retryWait, longer each time in a row while the page is open, cut
// short when the browser is back online), then load again where the video stands (a live
// stream at its live edge), or the master playlist again if it never came.
let triesInARow = 0;
let waiting = false; // a try is on its way (several loaders may give up at once: one try)
function playOnLater(hls, source, what, parsed) {
  player.lost = what;
  $("error").textContent = `Network error: ${what}`;
  if (waiting) return;
  waiting = true;
  const wait = mediacdn.retryWait(triesInARow);
  triesInARow += 1;
  player.retries += 1;
  overlay(`Connection lost — trying again in ${wait} s`);
  let timer = null;
  const tryAgain = () => {
    clearTimeout(timer);
    window.removeEventListener("online", tryAgain);
    waiting = false;
    if (player.lost === null) return;
    if (!parsed()) {
      hls.loadSource(source);
      return;
    }
    hls.stopLoad();
    hls.startLoad(cfg.live ? -1 : video.currentTime);
  };
  timer = setTimeout(tryAgain, wait * 1000);
  window.addEventListener("online", tryAgain); // the browser back on a network: at once
}

function play(source) {
  player.source = source;
  $("status-line").textContent = source.replace(/^https?:\/\//, "");
  if (!window.Hls || !Hls.isSupported()) {
    if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = source;
      return;
    }
    overlay("This browser cannot play HLS here (no Media Source Extensions, or hls.js failed to load).");
    return;
  }
  // low-latency mode for live; a player that fell behind catches up at up to 1.2× speed
  const options = {
    enableWorker: true, renderTextTracksNatively: true, lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.2,
  };
  const ahead = Number(params.get("buffer")); // ?buffer=S: buffer at most S seconds ahead
  if (ahead > 0) Object.assign(options, { maxBufferLength: ahead, maxMaxBufferLength: ahead });
  const hls = new Hls(options);
  player.hls = hls;
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    fillMenus(hls);
    video.play().catch(() => overlay("Click to play ▶"));
  });
  hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, () => fillAudio(hls));
  hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => fillSubtitles(hls));
  hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => player.levelSwitches.push(data.level));
  hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, (_, data) => {
    player.audioSwitches.push(data.id);
    $("audio").value = String(data.id);
  });
  hls.on(Hls.Events.SUBTITLE_TRACK_SWITCH, (_, data) => {
    player.subtitleSwitches.push(data.id);
    $("subtitles").value = String(data.id);
  });
  // fragments on their way (see the loaders' restart below; one loaded or aborted says so in
  // its stats, one that failed only in its error)
  const loading = new Set();
  const unparsable = new Set(); // video segments hls.js could not parse (their numbers)
  hls.on(Hls.Events.FRAG_LOADING, (_, data) => loading.add(data.frag));
  hls.on(Hls.Events.FRAG_LOADED, (_, data) => recordFragment(data.frag, data.part, data.networkDetails));
  const mediaTrouble = { count: 0, at: 0 }; // fatal media errors in a row, and where the last was
  let parsed = false; // the master playlist read: a retry restarts loading, else loads it again
  hls.on(Hls.Events.MANIFEST_PARSED, () => { parsed = true; });
  // back on the network: whatever loaded says so
  let rejoinUntil = 0; // a live stream back on the network rejoins its live edge (until then)
  let rejoinedTo = null; // where it sought to (it took once playback got there)
  for (const loaded of [Hls.Events.MANIFEST_LOADED, Hls.Events.LEVEL_LOADED, Hls.Events.FRAG_LOADED]) {
    hls.on(loaded, () => {
      if (player.lost === null) return;
      player.lost = null;
      if (cfg.live) rejoinUntil = performance.now() + REJOIN_FOR_S * 1000;
      rejoinedTo = null;
      triesInARow = 0;
      overlay("");
      $("error").textContent = "";
    });
  }
  // (by a playlist just loaded: hls.js's own live sync position, worked out from a playlist
  // that stopped coming, stays as far behind as the connection was gone). A seek past the
  // media's end is cut short to it by the browser, and hls.js moves that end to the new
  // playlist's edge only once no fragment is being appended: until then, and until a seek has
  // taken, the next playlist is looked at again.
  hls.on(Hls.Events.LEVEL_UPDATED, (_, { details }) => {
    const start = details.edge - (hls.targetLatency || 0);
    if (performance.now() > rejoinUntil || details.age > 1 || video.seeking) return;
    if (rejoinedTo !== null && video.currentTime >= rejoinedTo - 0.5) rejoinUntil = 0;
    if (!rejoinUntil || video.currentTime >= start - REJOIN_S || mediaEnd() < start) return;
    player.rejoins.push({ from: video.currentTime, to: start });
    rejoinedTo = start;
    video.currentTime = start;
  });
  hls.on(Hls.Events.ERROR, (_, data) => {
    if (data.frag) loading.delete(data.frag);
    const what = `${data.type}: ${data.details}${data.response && data.response.code ? ` (${data.response.code})` : ""}`;
    player.errors.push({ what, fatal: data.fatal });
    if (data.details === Hls.ErrorDetails.FRAG_PARSING_ERROR && data.frag && data.frag.type === "main") {
      unparsable.add(data.frag.sn);
    }
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR && !finalAnswer(data)) {
      playOnLater(hls, source, what, () => parsed);
      return;
    }
    $("error").textContent = `Playback error: ${what}`;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaTrouble.count < MEDIA_RECOVERIES) {
      mediaTrouble.count += 1;
      mediaTrouble.at = video.currentTime;
      player.recoveries += 1;
      if (mediaTrouble.count > 1) hls.swapAudioCodec();
      hls.recoverMediaError();
      return;
    }
    stopPlayback(hls, what);
  });
  // a stall is a wait during playback: not the wait before the first frame (startup), nor one
  // while a seek finds its data (hls.js seeks to a live stream's start position)
  let stalledSince = null;
  video.addEventListener("playing", () => {
    overlay("");
    player.started = true;
    if (stalledSince !== null) player.stalledS += (performance.now() - stalledSince) / 1000;
    stalledSince = null;
  });
  // The browser off every network while playback waits: hls.js keeps asking for a video's
  // segments and plays on once it is back, but the viewer is told why it waits.
  const sayOffline = () => {
    if (!navigator.onLine && !player.fatal && !player.lost && video.readyState < 3) overlay(OFFLINE);
  };
  window.addEventListener("offline", sayOffline);
  window.addEventListener("online", () => {
    if ($("overlay").textContent === OFFLINE) overlay("");
  });
  video.addEventListener("waiting", () => {
    sayOffline();
    if (!player.started || video.seeking || stalledSince !== null) return;
    player.stalls += 1;
    player.stalledAt.push(video.currentTime);
    stalledSince = performance.now();
  });
  // seconds spent stalled, the stall going on included
  player.stalledFor = () =>
    player.stalledS + (stalledSince === null ? 0 : (performance.now() - stalledSince) / 1000);
  // hls.js can stop loading for good when the audio track and the quality change at once:
  // an audio fragment is parsed but never appended, and playback waits with nothing loading.
  // Playback standing still for STUCK_S seconds with no fragment on its way restarts the
  // loaders where the video stands (a slow download still on its way is left to finish).
  let stillFor = 0;
  let lastTime = -1;
  let stuckAt = -1; // where the last restart was, playback standing still since
  setInterval(() => {
    for (const frag of loading) { // (a load a switch aborted says so only in its stats)
      if (frag.stats.aborted || frag.stats.loading.end > 0) loading.delete(frag);
    }
    if (mediaTrouble.count && video.currentTime > mediaTrouble.at + MEDIA_PAST_S) mediaTrouble.count = 0;
    const playing = player.started && !video.paused && !video.ended && !video.seeking;
    const still = playing && video.currentTime === lastTime && loading.size === 0;
    stillFor = still ? stillFor + 1 : 0;
    lastTime = video.currentTime;
    if (stillFor < STUCK_S || player.fatal || player.lost || !navigator.onLine) return;
    stillFor = 0;
    const end = video.currentTime === stuckAt ? brokenEnd(hls, unparsable) : null;
    if (end) {
      stopPlayback(hls, `the end of the video (from ${storyboard.clock(end.start)}) cannot be played`);
      return;
    }
    stuckAt = video.currentTime;
    player.restarts += 1;
    hls.stopLoad();
    loading.clear();
    hls.startLoad(video.currentTime);
  }, 1000);
  hls.loadSource(source);
  hls.attachMedia(video);
  setInterval(updatePanel, 500);
}

// What the page says while the origin cannot answer (it asks again).
function unreachable(what, wait) {
  overlay(`The server cannot answer for now (${what}) — trying again in ${wait} s`);
}

// A live stream once it is on air (or its recording once it has ended), or null.
async function waitUntilLive() {
  for (;;) {
    const response = await mediacdn.settledAnswer(`/api/live/${cfg.video_id}`, unreachable);
    if (!response.ok) {
      overlay(`This stream cannot be loaded: ${await mediacdn.errorMessage(response)}`);
      return null;
    }
    const stream = await response.json();
    if (stream.status === "ended") {
      if (!stream.video_id) { overlay("This stream has ended."); return null; }
      cfg.live = false; // its recording plays like any video
      return waitUntilReady();
    }
    if (stream.status === "live") return stream; // a player may join every rendition
    overlay("Waiting for the stream to start…");
    await mediacdn.sleep(1);
  }
}

// The video once it is ready, or null (the overlay says why).
async function waitUntilReady() {
  let video;
  try {
    video = await mediacdn.followVideo(cfg.video_id, (status) => {
      overlay(`This video is ${status.status} (${Math.round(status.progress)}%) — it plays when ready.`);
    }, unreachable);
  } catch (error) {
    overlay(`This video cannot be loaded: ${error.message}`);
    return null;
  }
  if (video.status === "ready") return video;
  overlay(`Transcoding failed: ${video.error ? video.error.message : "unknown error"}`);
  return null;
}

$("overlay").addEventListener("click", () => video.play().catch(() => {}));

(async () => {
  const ready = cfg.live ? await waitUntilLive() : await waitUntilReady();
  if (!ready) return;
  let token = null;
  if (ready.access === "signed") {
    try {
      token = await playbackToken();
    } catch (error) {
      overlay(error.message);
      return;
    }
  }
  overlay("");
  const { source, geo } = chooseSource(token);
  showThumbnails(ready.thumbnails, token, geo);
  play(source);
})();
