// Footfall calibration page: point pairs (camera px ↔ floor m), zones and lines, saved through
// the JSON API of calibration/web.py. The camera SVG works in frame pixels, the plan SVG in
// floor metres (x right, y down), so a click's SVG coordinates are already the stored values.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const state = {
  store: null, camera: null, mode: "points",
  pairs: [],   // [{image: [x, y] | null, floor: [x, y] | null, error: number | null}]
  zones: [], lines: [], draft: [],
};

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function svgPoint(svg, event) {
  const point = svg.createSVGPoint();
  point.x = event.clientX;
  point.y = event.clientY;
  const local = point.matrixTransform(svg.getScreenCTM().inverse());
  return [local.x, local.y];
}

function element(name, attributes, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  parent.appendChild(node);
  return node;
}

const round = (value, digits) => Number(value.toFixed(digits));
const pointsText = (points) => points.map((p) => p.join(",")).join(" ");

async function api(method, path, body) {
  const response = await fetch(path, {
    method, headers: body ? {"Content-Type": "application/json"} : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = Array.isArray(data.detail) ? data.detail.map((d) => `${d.loc.join(".")}: ${d.msg}`).join("\n")
      : data.detail || response.statusText;
    throw new Error(detail);
  }
  return data;
}

function camera() {
  return state.store.cameras.find((c) => c.name === state.camera);
}

function showSnapshot() {
  const [width, height] = camera().frame_size_px;
  const view = $("image-view");
  view.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const kind = $("check").checked ? "check" : "snapshot";
  const image = $("snapshot");
  image.setAttribute("width", width);
  image.setAttribute("height", height);
  image.setAttribute("href", `/api/cameras/${state.camera}/${kind}.jpg?t=${Date.now()}`);
}

function selectCamera(name) {
  state.camera = name;
  const cam = camera();
  state.pairs = cam.image_points_px.map((image, i) => ({image, floor: cam.floor_points_m[i],
                                                         error: cam.errors_m ? cam.errors_m[i] : null}));
  if (cam.problem) status(cam.problem, true);
  showSnapshot();
  draw();
}

function drawPlan() {
  const plan = state.store.floor_plan;
  const [x0, y0] = plan.origin_m;
  $("plan-view").setAttribute("viewBox", `${x0} ${y0} ${plan.width_m} ${plan.height_m}`);
  const image = $("plan-image");
  for (const [key, value] of Object.entries({x: x0, y: y0, width: plan.width_m, height: plan.height_m})) {
    image.setAttribute(key, value);
  }
  if (plan.has_image) image.setAttribute("href", "/api/plan-image");
  const grid = $("plan-grid");
  grid.replaceChildren();
  for (let x = Math.ceil(x0); x <= x0 + plan.width_m; x++) {
    element("line", {x1: x, y1: y0, x2: x, y2: y0 + plan.height_m, class: "grid"}, grid);
  }
  for (let y = Math.ceil(y0); y <= y0 + plan.height_m; y++) {
    element("line", {x1: x0, y1: y, x2: x0 + plan.width_m, y2: y, class: "grid"}, grid);
  }
}

function mark(parent, point, radius, label, outlier) {
  element("circle", {cx: point[0], cy: point[1], r: radius, class: outlier ? "pair outlier" : "pair"}, parent);
  const text = element("text", {x: point[0] + radius * 1.5, y: point[1] - radius * 1.5, class: "label",
                                "font-size": radius * 4, "stroke-width": radius * 0.6}, parent);
  text.textContent = label;
}

function draw() {
  const plan = state.store.floor_plan;
  const imageRadius = camera().frame_size_px[0] / 160;
  const floorRadius = plan.width_m / 120;
  const imageMarks = $("image-marks"), planMarks = $("plan-marks"), shapes = $("plan-shapes");
  for (const group of [imageMarks, planMarks, shapes]) group.replaceChildren();
  const maxError = camera().max_error_m;
  const rows = $("pairs").tBodies[0];
  rows.replaceChildren();
  state.pairs.forEach((pair, i) => {
    const outlier = pair.error !== null && pair.error > maxError;
    if (pair.image) mark(imageMarks, pair.image, imageRadius, String(i), outlier);
    if (pair.floor) mark(planMarks, pair.floor, floorRadius, String(i), outlier);
    const row = rows.insertRow();
    row.insertCell().textContent = i;
    row.insertCell().textContent = pair.image ? pair.image.join(", ") : "click the camera";
    row.insertCell().textContent = pair.floor ? pair.floor.join(", ") : "click the plan";
    row.insertCell().textContent = pair.error === null ? "" : pair.error.toFixed(3) + (outlier ? " outlier" : "");
    const remove = document.createElement("button");
    remove.textContent = "delete";
    remove.onclick = () => { state.pairs.splice(i, 1); draw(); };
    row.insertCell().appendChild(remove);
  });
  const list = $("shapes");
  list.replaceChildren();
  const item = (text, onDelete) => {
    const li = document.createElement("li");
    li.textContent = text + " ";
    const remove = document.createElement("button");
    remove.textContent = "delete";
    remove.onclick = () => { onDelete(); draw(); };
    li.appendChild(remove);
    list.appendChild(li);
    return li;
  };
  state.zones.forEach((zone, i) => {
    element("polygon", {points: pointsText(zone.polygon_m), class: "zone"}, shapes);
    const li = item(`zone ${zone.name}`, () => state.zones.splice(i, 1));
    li.dataset.zone = zone.name;
    const capacity = document.createElement("input");
    Object.assign(capacity, {type: "number", min: 1, step: 1, placeholder: "capacity", title: "capacity (people)"});
    capacity.value = zone.capacity ?? "";
    capacity.onchange = () => setCapacity(zone, capacity.value);
    li.insertBefore(capacity, li.lastChild);
  });
  state.lines.forEach((line, i) => {
    element("line", {x1: line.start_m[0], y1: line.start_m[1], x2: line.end_m[0], y2: line.end_m[1], class: "line"},
            shapes);
    const li = item(`line ${line.name}`, () => state.lines.splice(i, 1));
    li.dataset.line = line.name;
    li.insertBefore(Object.assign(document.createElement("span"), {className: "doubt"}), li.lastChild);
  });
  if (state.draft.length) element("polyline", {points: pointsText(state.draft), class: "draft"}, shapes);
  showLineDoubts();
}

// Beside each line, how well the selected camera can count it as drawn (edge/line_doubt.py), or
// its fusion group, which counts the lines of its cameras (the text names the group).
// Only the latest request's answer is shown: lines and cameras change while one is on its way.
let doubtRequest = 0;
async function showLineDoubts() {
  const request = ++doubtRequest;
  if (!state.lines.length) return;
  try {
    const result = await api("POST", `/api/cameras/${state.camera}/line-doubt`, {lines: state.lines});
    if (request !== doubtRequest) return;
    result.lines.forEach((doubt, i) => {
      const span = $("shapes").querySelectorAll("li[data-line] .doubt")[i];
      if (!span) return;
      span.textContent = doubt.group ? doubt.text : `${state.camera}: ${doubt.text}`;
      span.classList.toggle("error", doubt.counts_worse);
    });
  } catch (error) {
    if (request === doubtRequest) status(`line doubt: ${error.message}`, true);
  }
}

function addPairPoint(side, point) {
  const open = state.pairs.find((pair) => pair[side] === null);
  if (open) open[side] = point;
  else state.pairs.push({image: null, floor: null, error: null, [side]: point});
  for (const pair of state.pairs) pair.error = null;
  draw();
}

function clickImage(event) {
  if (state.mode !== "points") return status("switch to 'Point pairs' to click the camera", true);
  const [x, y] = svgPoint($("image-view"), event);
  addPairPoint("image", [round(x, 1), round(y, 1)]);
}

function clickPlan(event) {
  const [x, y] = svgPoint($("plan-view"), event);
  const point = [round(x, 2), round(y, 2)];
  if (state.mode === "points") return addPairPoint("floor", point);
  state.draft.push(point);
  if (state.mode === "line" && state.draft.length === 2) finishShape();
  draw();
}

function setCapacity(zone, text) {
  const capacity = Number.parseInt(text, 10);
  if (capacity >= 1) zone.capacity = capacity;
  else delete zone.capacity;  // empty: no capacity, the zone never shows as crowded
}

function finishShape() {
  const name = $("name").value.trim();
  if (!name) return status("type a name first", true);
  if (state.mode === "zone") {
    if (state.draft.length < 3) return status("a zone needs at least 3 points", true);
    const zone = {name, polygon_m: state.draft};
    setCapacity(zone, $("capacity").value);
    state.zones.push(zone);
  } else if (state.mode === "line") {
    state.lines.push({name, start_m: state.draft[0], end_m: state.draft[1]});
  }
  state.draft = [];
  status(`added ${state.mode} ${name}; save to keep it`);
  draw();
}

async function savePoints() {
  const complete = state.pairs.filter((pair) => pair.image && pair.floor);
  try {
    const result = await api("PUT", `/api/cameras/${state.camera}/points`, {
      image_points_px: complete.map((pair) => pair.image), floor_points_m: complete.map((pair) => pair.floor)});
    state.pairs = complete.map((pair, i) => ({...pair, error: result.errors_m[i]}));
    await reload();
    status(`saved ${complete.length} point pairs, median error ${result.median_error_m.toFixed(3)} m`);
  } catch (error) {
    status(error.message, true);
  }
}

async function saveLayout() {
  try {
    const result = await api("PUT", "/api/layout", {zones: state.zones, lines: state.lines});
    status(`saved ${result.zones} zones and ${result.lines} lines`);
  } catch (error) {
    status(error.message, true);
  }
}

async function reload() {
  const first = state.store === null;
  state.store = await api("GET", "/api/store");
  if (first) {  // later reloads keep zones and lines being edited
    state.zones = state.store.zones;
    state.lines = state.store.lines;
  }
  $("store").textContent = state.store.store;
  const select = $("camera");
  if (!select.options.length) {
    for (const cam of state.store.cameras) select.add(new Option(cam.name, cam.name));
  }
  drawPlan();
  selectCamera(state.camera || state.store.cameras[0].name);
}

function setMode(mode) {
  state.mode = mode;
  state.draft = [];
  for (const button of document.querySelectorAll("[data-mode]")) {
    button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
  }
  draw();
}

$("image-view").addEventListener("click", clickImage);
$("plan-view").addEventListener("click", clickPlan);
$("camera").addEventListener("change", (event) => selectCamera(event.target.value));
$("check").addEventListener("change", showSnapshot);
$("finish").addEventListener("click", finishShape);
$("undo").addEventListener("click", () => {
  if (state.mode === "points") state.pairs.pop(); else state.draft.pop();
  draw();
});
$("clear").addEventListener("click", () => { state.pairs = []; draw(); });
$("save-points").addEventListener("click", savePoints);
$("save-layout").addEventListener("click", saveLayout);
for (const button of document.querySelectorAll("[data-mode]")) {
  button.addEventListener("click", () => setMode(button.dataset.mode));
}
async function discoverCameras() {
  const list = $("found");
  list.replaceChildren();
  status("looking for cameras (3 s)...");
  const found = (await api("GET", "/api/discover")).cameras;
  for (const cam of found) {
    const item = document.createElement("li");
    item.textContent = `${cam.name || "(no name)"} ${cam.hardware || ""} ${cam.device_url}`;
    const streams = document.createElement("ul");
    for (const stream of cam.streams) {
      const line = document.createElement("li");
      const size = stream.width_px ? `${stream.width_px}x${stream.height_px}` : "";
      line.textContent = `${stream.profile} ${stream.codec || ""} ${size} `;
      const uri = document.createElement("code");
      uri.textContent = stream.rtsp_uri;
      line.appendChild(uri);
      streams.appendChild(line);
    }
    if (cam.error) {
      const line = document.createElement("li");
      line.textContent = `no stream address: ${cam.error}`;
      streams.appendChild(line);
    }
    item.appendChild(streams);
    list.appendChild(item);
  }
  status(found.length ? `${found.length} camera(s) found` : "no ONVIF camera answered");
}

$("discover").addEventListener("click", () => discoverCameras().catch((error) => status(error.message, true)));
reload().then(() => { document.body.dataset.ready = "1"; }, (error) => status(error.message, true));
