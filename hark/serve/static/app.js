// Hark's page: microphone → 16 kHz PCM over the socket; reply audio, captions and latencies back.
"use strict";
const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token") || "";
const state = { ws: null, ctx: null, mic: null, pushToTalk: false, held: false, outputRate: 22050,
  nextTime: 0, sources: new Set(), playedSamples: 0 };

function status(text, refused = false) {
  $("status").textContent = text;
  $("status").classList.toggle("refused", refused);
}

function caption(cls, text) {
  const line = document.createElement("div");
  line.className = cls;
  line.textContent = (cls === "you" ? "You: " : "Hark: ") + text;
  $("captions").insertBefore(line, $("partial"));
  line.scrollIntoView({ block: "nearest" });
}

// ---- reply audio: played in order as it arrives; dropped at once when the reply is cut ----
function play(buffer) {
  const pcm = new Int16Array(buffer);
  if (!pcm.length) return;
  const audio = state.ctx.createBuffer(1, pcm.length, state.outputRate);
  const data = audio.getChannelData(0);
  for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 0x8000;
  const source = state.ctx.createBufferSource();
  source.buffer = audio;
  source.connect(state.ctx.destination);
  const at = Math.max(state.ctx.currentTime + 0.02, state.nextTime);
  source.start(at);
  state.nextTime = at + audio.duration;
  state.sources.add(source);
  source.onended = () => {
    if (!state.sources.delete(source)) return;  // flushed: not heard
    state.playedSamples += pcm.length;
    const seconds = state.playedSamples / state.outputRate;
    $("played").dataset.samples = String(state.playedSamples);
    $("played").dataset.seconds = seconds.toFixed(2);
    $("played").textContent = seconds.toFixed(1) + " s";
  };
}

function flush() {
  const sources = [...state.sources];
  state.sources.clear();
  for (const source of sources) { try { source.stop(); } catch (_) { /* not started yet */ } }
  state.nextTime = 0;
}

// ---- events from the server ----
function onEvent(event) {
  switch (event.event) {
    case "ready":
      state.outputRate = event.output_rate;
      status(state.pushToTalk ? "Hold the button and speak." : "Listening: just speak.");
      for (const id of ["talk", "stop", "upload", "camera"]) $(id).disabled = false;
      break;
    case "transcript":
      if (event.final) { $("partial").textContent = ""; if (event.text) caption("you", event.text); }
      else $("partial").textContent = event.text;
      break;
    case "reply": case "announcement":
      if (event.text) caption("hark", event.text + (event.interrupted ? " …" : ""));
      break;
    case "barge_in": case "flush":
      flush();
      break;
    case "metrics":
      if (event.eos_to_first_audio_s != null) {
        $("latency").textContent = `${event.eos_to_first_audio_s.toFixed(2)} s from the end of your speech to Hark's voice`
          + ` (speech recognition ${(event.stt_s ?? 0).toFixed(2)} s, first words ${(event.llm_first_token_s ?? 0).toFixed(2)} s)`;
      }
      break;
    case "image":
      status("Image attached: now ask your question about it.");
      break;
    case "error":
      status(event.message, true);
      break;
  }
}

// ---- the session ----
async function start(pushToTalk) {
  state.pushToTalk = pushToTalk;
  $("start").disabled = true;
  state.ctx = new AudioContext();
  await state.ctx.resume();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 } });
  } catch (err) {
    status("The microphone is not available: " + err.message, true);
    $("start").disabled = false;
    return;
  }
  await state.ctx.audioWorklet.addModule("static/mic-worklet.js");
  const input = state.ctx.createMediaStreamSource(stream);
  state.mic = new AudioWorkletNode(state.ctx, "downsampler");
  input.connect(state.mic);
  state.mic.port.onmessage = (msg) => {
    const ws = state.ws;
    if (ws && ws.readyState === WebSocket.OPEN && (!state.pushToTalk || state.held)) ws.send(msg.data);
  };
  connect();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws?token=${encodeURIComponent(token)}`);
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  status("Connecting…");
  ws.onopen = () => ws.send(JSON.stringify({ type: "start", sample_rate: 16000, greet: true }));
  ws.onmessage = (msg) => (typeof msg.data === "string" ? onEvent(JSON.parse(msg.data)) : play(msg.data));
  ws.onclose = (close) => {
    flush();
    for (const id of ["talk", "stop", "upload", "camera"]) $(id).disabled = true;
    const why = close.reason || (close.code === 1006 ? "the connection was lost (or the token is wrong)" : "");
    status(`Hark closed the session (${close.code})${why ? ": " + why : ""}. Reload the page to start again.`, true);
  };
}

// ---- images: an upload or a camera snapshot, scaled to 1024 px, sent as JPEG ----
function sendImage(drawable, width, height) {
  const scale = Math.min(1, 1024 / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  canvas.getContext("2d").drawImage(drawable, 0, 0, canvas.width, canvas.height);
  const url = canvas.toDataURL("image/jpeg", 0.85);
  $("snapshot").src = url;
  $("snapshot").style.display = "block";
  state.ws.send(JSON.stringify({ type: "image", data: url.slice(url.indexOf(",") + 1) }));
}

$("upload").addEventListener("change", async () => {
  const file = $("upload").files[0];
  if (!file) return;
  try {
    const bitmap = await createImageBitmap(file);
    sendImage(bitmap, bitmap.width, bitmap.height);
  } catch (_) {
    status("That file is not an image this browser can read.", true);
  }
  $("upload").value = "";
});

$("camera").addEventListener("click", async () => {
  const video = $("video");
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
    await video.play();
    await new Promise((resolve) => setTimeout(resolve, 300));  // let the exposure settle
    sendImage(video, video.videoWidth, video.videoHeight);
  } catch (err) {
    status("The camera is not available: " + err.message, true);
  } finally {
    for (const track of (video.srcObject ? video.srcObject.getTracks() : [])) track.stop();
    video.srcObject = null;
  }
});

// ---- controls ----
$("start").addEventListener("click", () => start(false));
$("stop").addEventListener("click", () => {
  flush();
  if (state.ws) state.ws.send(JSON.stringify({ type: "interrupt" }));
});
function hold(down) {
  if (!state.ws) return;
  if (down) {  // from now on the microphone is sent only while the button is held
    state.pushToTalk = true;
    flush();
    state.ws.send(JSON.stringify({ type: "interrupt" }));
  }
  if (!down && state.held) state.ws.send(JSON.stringify({ type: "end" }));
  state.held = down;
  $("talk").classList.toggle("held", down);
}
$("talk").addEventListener("pointerdown", () => hold(true));
$("talk").addEventListener("pointerup", () => hold(false));
$("talk").addEventListener("pointerleave", () => { if (state.held) hold(false); });
document.addEventListener("keydown", (e) => { if (e.code === "Space" && !e.repeat && e.target === document.body) { e.preventDefault(); hold(true); } });
document.addEventListener("keyup", (e) => { if (e.code === "Space" && e.target === document.body) hold(false); });
