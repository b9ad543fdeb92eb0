// The upload page: a dropped or chosen file goes up with tus (resumable, in chunks), then the
// page follows the transcode and links to the player when the video is ready.
"use strict";

const cfg = mediacdn.config();
const $ = (id) => document.getElementById(id);
const CHUNK_BYTES = 2 * 1024 * 1024;
const KEY_STORE = mediacdn.KEY_STORE;
let busy = false;

$("api-key").value = localStorage.getItem(KEY_STORE) || "";
$("limit").textContent = `up to ${mediacdn.bytes(cfg.max_upload_bytes)}`;

function message(text, isError = false) {
  $("message").textContent = text;
  $("message").className = `message${isError ? " error" : ""}`;
}

function step(name, percent, text) {
  $(`${name}-progress`).value = percent;
  $(`${name}-text`).textContent = text;
}

async function tusErrorMessage(error) {
  const response = error.originalResponse;
  if (response) {
    try {
      const body = JSON.parse(response.getBody());
      if (body.error) return `${body.error.message} (${body.error.code})`;
    } catch (_) { /* not JSON */ }
    return `HTTP ${response.getStatus()}`;
  }
  return error.message || String(error);
}

async function followTranscode(videoId) {
  let video;
  try {
    video = await mediacdn.followVideo(videoId, (status) => {
      message(`Uploaded: video ${videoId} is transcoding …`);
      step("transcode", status.progress, `${status.status} ${Math.round(status.progress)}%`);
    }, (what, wait) => {
      message(`The server cannot answer for now (${what}): trying again in ${wait} s`, true);
    });
  } catch (error) {
    message(`Could not follow the transcode: ${error.message}`, true);
    return;
  }
  if (video.status === "failed") {
    message(`Transcoding failed: ${video.error ? video.error.message : "unknown error"}`, true);
    return;
  }
  step("transcode", 100, "ready");
  $("watch-link").href = `/watch/${videoId}`;
  $("watch-link").textContent = `${location.origin}/watch/${videoId}`;
  $("ready").hidden = false;
  message("");
}

function start(file) {
  if (busy) return;
  const key = $("api-key").value.trim();
  if (!key) {
    message("Enter the API key first (mediacdn serve prints it; it is also in data/api-key).", true);
    $("api-key").focus();
    return;
  }
  if (file.size > cfg.max_upload_bytes) {
    message(`${file.name} is ${mediacdn.bytes(file.size)}: the limit is ${mediacdn.bytes(cfg.max_upload_bytes)}.`, true);
    return;
  }
  localStorage.setItem(KEY_STORE, key);
  busy = true;
  $("ready").hidden = true;
  step("upload", 0, "0%");
  step("transcode", 0, "–");
  message(`Uploading ${file.name} (${mediacdn.bytes(file.size)}) …`);
  let videoId = null;
  const upload = new tus.Upload(file, {
    endpoint: "/api/uploads/",
    chunkSize: CHUNK_BYTES,
    retryDelays: [0, 1000, 3000, 5000],
    removeFingerprintOnSuccess: true,
    headers: { Authorization: `Bearer ${key}` },
    metadata: { filename: file.name, filetype: file.type || "application/octet-stream", title: $("title").value.trim() || file.name },
    onProgress(sent, total) {
      const percent = total ? (sent / total) * 100 : 0;
      step("upload", percent, `${percent.toFixed(0)}% of ${mediacdn.bytes(total)}`);
    },
    onAfterResponse(_request, response) {
      videoId = response.getHeader("X-Video-Id") || videoId;
    },
    async onError(error) {
      busy = false;
      message(`Upload failed: ${await tusErrorMessage(error)}. Drop the file again to resume.`, true);
    },
    async onSuccess() {
      busy = false;
      step("upload", 100, "done");
      if (!videoId) {
        message("The server did not name the new video.", true);
        return;
      }
      message(`Uploaded: video ${videoId} is transcoding …`);
      await followTranscode(videoId);
    },
  });
  upload.findPreviousUploads().then((previous) => {
    if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
    upload.start();
  });
}

const drop = $("drop");
drop.addEventListener("click", () => $("file").click());
drop.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") $("file").click(); });
$("file").addEventListener("change", () => { if ($("file").files.length) start($("file").files[0]); });
for (const name of ["dragenter", "dragover"]) {
  drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add("over"); });
}
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  const file = event.dataTransfer && event.dataTransfer.files[0];
  if (file) start(file);
});
