// The calibration page's audit: open a recording of the chosen camera, play it frame by frame
// (frames come from /api/audit/frames, so any container OpenCV reads plays here), mark crossings
// and zone counts at the frame shown, then have the server replay the recording through the
// store's pipeline and show the report. Uses calibrate.js's $, state, api and status.
"use strict";

const audit = {clip: null, index: 0, playing: false, crossings: [], zoneCounts: []};

const clipTime = (index) => index / audit.clip.fps;
const percent = (value) => (value === null ? "–" : `${(100 * value).toFixed(1)} %`);

function showFrame(index) {
  audit.index = Math.max(0, Math.min(index, audit.clip.frames - 1));
  $("clip-time").value = audit.index;
  $("clip-clock").textContent = `${clipTime(audit.index).toFixed(2)} s, frame ${audit.index + 1} of ${audit.clip.frames}`;
  const image = $("clip-frame");
  image.src = `/api/audit/frames/${audit.index}.jpg`;
  return image.decode().catch(() => {});
}

function play() {
  audit.playing = !audit.playing;
  $("clip-play").textContent = audit.playing ? "Pause" : "Play";
  const step = () => {
    if (!audit.playing) return;
    if (audit.index + 1 >= audit.clip.frames) return play();
    const due = performance.now() + 1000 / audit.clip.fps;
    showFrame(audit.index + 1).then(() => setTimeout(step, Math.max(0, due - performance.now())));
  };
  step();
}

function drawMarks() {
  const list = $("marks");
  list.replaceChildren();
  const entries = [
    ...audit.crossings.map((c, i) => ({time_s: c.time_s, text: `${c.line} ${c.direction}`,
                                      remove: () => audit.crossings.splice(i, 1)})),
    ...audit.zoneCounts.map((z, i) => ({time_s: z.time_s,
                                       text: Object.entries(z.people).map(([k, v]) => `${k}: ${v}`).join(", "),
                                       remove: () => audit.zoneCounts.splice(i, 1)})),
  ].sort((a, b) => a.time_s - b.time_s);
  for (const entry of entries) {
    const li = document.createElement("li");
    const seek = document.createElement("a");
    seek.href = "#";
    seek.textContent = `${entry.time_s.toFixed(2)} s`;
    seek.onclick = (event) => { event.preventDefault(); showFrame(Math.round(entry.time_s * audit.clip.fps)); };
    li.append(seek, ` ${entry.text}`);
    const remove = document.createElement("button");
    remove.textContent = "delete";
    remove.onclick = () => { entry.remove(); drawMarks(); };
    li.appendChild(remove);
    list.appendChild(li);
  }
  const crossings = audit.crossings.length, counts = audit.zoneCounts.length;
  $("audit-run").textContent = `Replay and report (${crossings} crossings, ${counts} zone counts)`;
}

function buildControls() {
  const buttons = $("crossing-buttons");
  buttons.replaceChildren();
  for (const line of state.store.lines) {
    for (const direction of ["in", "out"]) {
      const button = document.createElement("button");
      Object.assign(button.dataset, {line: line.name, direction});
      button.textContent = `${line.name} ${direction}`;
      button.onclick = () => {
        audit.crossings.push({line: line.name, direction, time_s: clipTime(audit.index)});
        drawMarks();
      };
      buttons.appendChild(button);
    }
  }
  const inputs = $("zone-inputs");
  inputs.replaceChildren();
  for (const zone of state.store.zones) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    Object.assign(input, {type: "number", min: 0, step: 1});
    input.dataset.zone = zone.name;
    label.append(`${zone.name} `, input, " ");
    inputs.appendChild(label);
  }
}

function markZones() {
  const people = {};
  for (const input of document.querySelectorAll("#zone-inputs input")) {
    if (input.value !== "") people[input.dataset.zone] = Number.parseInt(input.value, 10);
  }
  if (!Object.keys(people).length) return status("type how many people stand in a zone first", true);
  audit.zoneCounts.push({time_s: clipTime(audit.index), people});
  drawMarks();
}

function clipOpened(clip) {
  audit.clip = clip;
  audit.crossings = [];
  audit.zoneCounts = [];
  audit.playing = false;
  $("clip-time").max = clip.frames - 1;
  $("clip-info").textContent = `${clip.name}: ${clip.frames} frames, ${clip.clip_s.toFixed(1)} s at ${clip.fps} fps, ` +
    `${clip.frame_size_px.join("x")} px`;
  $("audit-report").replaceChildren();
  $("player").hidden = false;
  buildControls();
  drawMarks();
  status(`opened ${clip.name} for camera ${clip.camera}`);
  return showFrame(0);
}

async function openLocalClip() {
  try {
    await clipOpened(await api("POST", "/api/audit/clip", {camera: state.camera, path: $("clip-path").value.trim()}));
  } catch (error) {
    status(error.message, true);
  }
}

async function uploadClip() {
  const file = $("clip-file").files[0];
  if (!file) return;
  status(`uploading ${file.name}…`);
  const query = new URLSearchParams({camera: state.camera, name: file.name});
  const response = await fetch(`/api/audit/clip?${query}`, {method: "PUT", body: file});
  const data = await response.json().catch(() => ({}));
  if (!response.ok) return status(data.detail || response.statusText, true);
  await clipOpened(data);
}

function reportTable(headings, rows) {
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const heading of headings) head.appendChild(document.createElement("th")).textContent = heading;
  const body = table.createTBody();
  for (const {key, attribute, cells} of rows) {
    const row = body.insertRow();
    if (key) row.dataset[attribute] = key;
    for (const [field, text] of cells) {
      const cell = row.insertCell();
      cell.dataset.field = field;
      cell.textContent = text;
    }
  }
  return table;
}

function lineCells(figures) {
  return [
    ["marked_in", figures.marked_in ?? ""], ["marked_out", figures.marked_out ?? ""],
    ["counted_in", figures.counted_in ?? ""], ["counted_out", figures.counted_out ?? ""],
    ["marked", figures.marked], ["counted", figures.counted], ["abs_error", figures.abs_error],
    ["accuracy", percent(figures.accuracy)],
    ["interval", figures.low === null ? "–" : `${percent(figures.low)} – ${percent(figures.high)}`],
  ];
}

function showReport(result) {
  const headings = ["line", "marked in", "marked out", "counted in", "counted out", "marked", "counted",
                    "|error|", "line accuracy", "95 % interval (Wilson)"];
  const rows = result.lines.map((line) => ({key: line.line, attribute: "line",
                                            cells: [["line", line.line], ...lineCells(line)]}));
  rows.push({key: "all", attribute: "line", cells: [["line", "all lines"], ...lineCells(result.total)]});
  const zones = result.zones.map((zone) => ({key: zone.zone, attribute: "zone", cells: [
    ["zone", zone.zone], ["moments", zone.moments], ["marked_mean_people", zone.marked_mean_people],
    ["mean_abs_error_people", zone.mean_abs_error_people], ["bias_people", zone.bias_people]]}));
  const caption = document.createElement("p");
  caption.textContent = `Audit of camera ${result.camera} on ${result.date}, ${result.clip_s.toFixed(1)} s of ` +
    "recording. Line accuracy is 1 − Σ|counted − marked| / Σ marked; its interval is Wilson's 95 % " +
    "interval of the share of marked crossings counted right.";
  const parts = [caption, reportTable(headings, rows)];
  if (zones.length) {
    parts.push(reportTable(["zone", "moments", "marked people (mean)", "mean |error| (people)",
                            "bias (people)"], zones));
  }
  $("audit-report").replaceChildren(...parts);
}

async function runAudit() {
  status("replaying the recording through the pipeline…");
  const button = $("audit-run");
  button.disabled = true;
  button.textContent = "Replaying the recording through the pipeline…";  // a minute or two
  try {
    const result = await api("POST", "/api/audit/run", {camera: audit.clip.camera, crossings: audit.crossings,
                                                         zone_counts: audit.zoneCounts});
    showReport(result);
    status(`audit saved: line accuracy ${percent(result.total.accuracy)} over ${result.total.marked} marked crossings`);
    $("audit-report").scrollIntoView();
  } catch (error) {
    status(error.message, true);
    $("status").scrollIntoView();
  } finally {
    button.disabled = false;
    drawMarks();  // the button's own text again
  }
}

$("clip-open").addEventListener("click", openLocalClip);
$("clip-file").addEventListener("change", () => uploadClip().catch((error) => status(error.message, true)));
$("clip-time").addEventListener("input", (event) => showFrame(Number(event.target.value)));
$("clip-play").addEventListener("click", play);
$("mark-zones").addEventListener("click", markZones);
$("audit-run").addEventListener("click", runAudit);
