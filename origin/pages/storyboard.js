// Seek previews: the video's storyboard track (WebVTT whose cues each name a region of a sheet
// of small pictures, "0.jpg#xywh=160,0,160,90") drives a picture that follows the pointer
// along a timeline under the player; a click or the arrow keys seek.
"use strict";

const storyboard = {
  // "01:02:03.500" or "02:03.500" → seconds
  seconds(text) {
    return text.trim().split(":").reduce((total, part) => total * 60 + Number(part), 0);
  },
  // The cues of a storyboard track, sheet URLs made absolute against `base` (the track's URL).
  parse(text, base) {
    const cues = [];
    const blocks = text.replace(/\r\n?/g, "\n").split(/\n{2,}/);
    for (const block of blocks) {
      const lines = block.split("\n").filter((l) => l.trim());
      const timing = lines.findIndex((l) => l.includes("-->"));
      if (timing < 0 || timing + 1 >= lines.length) continue;
      const [start, end] = lines[timing].split("-->").map((t) => storyboard.seconds(t.split(/\s+/).filter(Boolean)[0] || t));
      const target = lines[timing + 1].trim();
      const hash = target.indexOf("#xywh=");
      if (hash < 0 || !Number.isFinite(start) || !Number.isFinite(end)) continue;
      const [x, y, w, h] = target.slice(hash + 6).split(",").map(Number);
      if (![x, y, w, h].every(Number.isFinite)) continue;
      cues.push({ start, end, url: new URL(target.slice(0, hash), base).href, x, y, w, h });
    }
    return cues.sort((a, b) => a.start - b.start);
  },
  // The cue showing time `t` (the last one that starts at or before it).
  at(cues, t) {
    let lo = 0;
    let hi = cues.length - 1;
    let found = cues.length ? 0 : -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (cues[mid].start <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found < 0 ? null : cues[found];
  },
  clock(t) {
    const s = Math.max(0, Math.floor(t));
    const hours = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(hours ? 2 : 1, "0");
    const ss = String(s % 60).padStart(2, "0");
    return hours ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
  },
  // Wire the timeline: `parts` are the bar, its played fill, the preview box, its picture
  // and its time label; `onPreview` hears what is shown (or null when hidden).
  attach(video, cues, parts, onPreview) {
    const { bar, played, preview, picture, label } = parts;
    const duration = () => (Number.isFinite(video.duration) && video.duration > 0
      ? video.duration : (cues.length ? cues[cues.length - 1].end : 0));
    const timeAt = (clientX) => {
      const box = bar.getBoundingClientRect();
      const fraction = Math.min(1, Math.max(0, (clientX - box.left) / box.width));
      return { t: fraction * duration(), left: fraction * box.width };
    };
    const show = (clientX) => {
      const { t, left } = timeAt(clientX);
      const cue = storyboard.at(cues, t);
      if (!cue) return;
      picture.style.width = `${cue.w}px`;
      picture.style.height = `${cue.h}px`;
      picture.style.backgroundImage = `url("${cue.url}")`;
      picture.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
      label.textContent = storyboard.clock(t);
      preview.hidden = false;
      const half = preview.offsetWidth / 2;
      preview.style.left = `${Math.min(bar.clientWidth - half, Math.max(half, left)) - half}px`;
      onPreview({ time: t, url: cue.url, x: cue.x, y: cue.y, w: cue.w, h: cue.h });
    };
    const hide = () => { preview.hidden = true; onPreview(null); };
    bar.addEventListener("pointermove", (e) => show(e.clientX));
    bar.addEventListener("pointerenter", (e) => show(e.clientX));
    bar.addEventListener("pointerleave", hide);
    bar.addEventListener("click", (e) => { video.currentTime = timeAt(e.clientX).t; });
    bar.addEventListener("keydown", (e) => {
      const step = { ArrowLeft: -5, ArrowRight: 5, Home: -Infinity, End: Infinity }[e.key];
      if (step === undefined) return;
      e.preventDefault();
      video.currentTime = Math.min(duration(), Math.max(0, video.currentTime + step));
    });
    const progress = () => {
      const d = duration();
      played.style.width = `${d ? (100 * video.currentTime) / d : 0}%`;
      bar.setAttribute("aria-valuenow", String(Math.round(video.currentTime)));
      bar.setAttribute("aria-valuemax", String(Math.round(d)));
      bar.setAttribute("aria-valuetext", `${storyboard.clock(video.currentTime)} of ${storyboard.clock(d)}`);
    };
    video.addEventListener("timeupdate", progress);
    video.addEventListener("durationchange", progress);
    bar.hidden = false;
    progress();
  },
};
