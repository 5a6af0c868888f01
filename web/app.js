// The MagicAnimate page: submit an image and a motion video, follow the job
// live (Server-Sent Events), play and download the result, browse past jobs.
// Every request goes through fetch() so an API key travels in a header (never
// in a URL); videos are fetched as blobs for the same reason.
'use strict';

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = 'magicanimate.apiKey';
const state = {
  key: localStorage.getItem(KEY_STORAGE) || '',
  current: null,        // id of the job shown in the "current" card
  stream: null,         // AbortController of its event stream
  resultUrls: [],       // object URLs to release when another job is shown
  listTimer: null,
};

// ---- API access ---------------------------------------------------------

let keyPrompt = null;  // one dialog at a time, shared by concurrent requests

function askForKey(message) {
  if (keyPrompt) return keyPrompt;
  keyPrompt = new Promise((resolve) => {
    const dialog = $('key-dialog');
    $('key-error').textContent = message || '';
    $('api-key').value = state.key;
    $('key-form').onsubmit = () => {
      state.key = $('api-key').value.trim();
      localStorage.setItem(KEY_STORAGE, state.key);
      keyPrompt = null;
      resolve();
    };
    dialog.showModal();
  });
  return keyPrompt;
}

async function api(path, options = {}) {
  for (;;) {
    const headers = new Headers(options.headers || {});
    if (state.key) headers.set('Authorization', 'Bearer ' + state.key);
    const res = await fetch(path, { ...options, headers });
    if (res.status !== 401) return res;
    await askForKey(state.key ? 'That key was not accepted.' : '');
  }
}

async function errorOf(res) {
  try {
    const body = await res.json();
    if (body && body.error) return body.error;
  } catch (e) { /* not JSON */ }
  return `${res.status} ${res.statusText}`;
}

// ---- formatting ---------------------------------------------------------

function duration(seconds) {
  if (seconds == null || !isFinite(seconds)) return '';
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 60) return `${seconds} s`;
  const m = Math.floor(seconds / 60), s = seconds % 60;
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function progressText(job) {
  const p = job.progress;
  if (job.status === 'queued') return job.queue_position ? `waiting, #${job.queue_position} in line` : 'waiting';
  if (job.status === 'done') return p && p.elapsed_s ? `finished in ${duration(p.elapsed_s)}` : '';
  if (job.status !== 'running' || !p) return '';
  if (p.phase === 'denoise' && p.steps) return `step ${p.step}/${p.steps}, window ${p.window}/${p.windows}`;
  const names = { start: 'starting', encode: 'encoding the image', decode: 'decoding frames', write: 'writing the video', done: 'done' };
  return names[p.phase] || p.phase || '';
}

function settingsText(params) {
  const size = params.size != null ? `${params.size}px` : `${params.width}x${params.height}`;
  const sampler = params.scheduler && params.scheduler !== 'ddim' ? ` (${params.scheduler})` : '';
  return `${size}, ${params.steps} steps${sampler}, guidance ${params.guidance}, seed ${params.seed}`;
}

const finished = (status) => status === 'done' || status === 'failed' || status === 'cancelled';

// ---- the form -----------------------------------------------------------

function preview(input, element) {
  const file = input.files[0];
  if (element.src) URL.revokeObjectURL(element.src);
  if (!file) { element.hidden = true; element.removeAttribute('src'); return; }
  element.src = URL.createObjectURL(file);
  element.hidden = false;
}

async function loadDefaults() {
  try {
    const res = await fetch('/health');
    const health = await res.json();
    const d = health.defaults || {};
    for (const name of ['steps', 'scheduler', 'guidance', 'seed', 'size', 'context', 'overlap', 'deep_cache']) {
      if (d[name] != null) $(name).value = d[name];
    }
    // Without serve --size the defaults are the models' native size (magicanimate.json),
    // so a square one fills the field above; a non-square one has no single size: the
    // field stays empty (the server's default applies) and shows it as its placeholder.
    if ($('size').value === '' && d.width && d.height) $('size').placeholder = `${d.width}x${d.height}`;
    const nw = health.native_width, nh = health.native_height;
    if (nw && nh) $('size').title = `The models' native size: ${nw}x${nh}`;
    const limits = health.limits || {};
    if (limits.max_steps) $('steps').max = limits.max_steps;
    if (limits.max_size) $('size').max = limits.max_size;
    $('extract-pose-row').hidden = !health.extract_pose;  // serve --densepose-weights
  } catch (e) { /* the fields keep the server defaults by being left empty */ }
}

async function submit(event) {
  event.preventDefault();
  $('form-error').textContent = '';
  const form = new FormData($('submit-form'));
  for (const [name, value] of [...form.entries()]) {
    if (typeof value === 'string' && value.trim() === '' && name !== 'prompt') form.delete(name);
  }
  $('submit').disabled = true;
  try {
    const res = await api('/v1/animations', { method: 'POST', body: form });
    if (res.status !== 202) throw new Error(await errorOf(res));
    const job = await res.json();
    watch(job.id);
    refreshList();
  } catch (e) {
    $('form-error').textContent = e.message;
  } finally {
    $('submit').disabled = false;
  }
}

// ---- the current job ----------------------------------------------------

function render(job) {
  if (job.id !== state.current) return;
  $('current').hidden = false;
  $('current-title').textContent = `Animation ${job.id}`;
  const badge = $('status');
  badge.textContent = job.status;
  badge.className = 'badge ' + job.status;
  const p = job.progress;
  $('progress').value = job.status === 'done' ? 1 : (p ? p.fraction : 0);
  $('progress-text').textContent = progressText(job);
  $('eta').textContent = job.status === 'running' && job.eta_s != null ? `about ${duration(job.eta_s)} left` : '';
  $('job-error').textContent = job.error || '';
  $('cancel').hidden = finished(job.status);
  if (job.status === 'done') showResult(job);
}

async function fetchBlobUrl(path) {
  const res = await api(path);
  if (!res.ok) throw new Error(await errorOf(res));
  const url = URL.createObjectURL(await res.blob());
  state.resultUrls.push(url);
  return url;
}

async function showResult(job) {
  const video = $('result-video');
  if (video.dataset.jobId === job.id) return;
  video.dataset.jobId = job.id;
  try {
    const url = await fetchBlobUrl(job.result_url);
    if (state.current !== job.id) return;
    video.src = url;
    video.muted = true;
    $('download-link').href = url;
    $('download-link').download = `${job.id}-result.mp4`;
    $('result').hidden = false;
    video.play().catch(() => { /* autoplay refused: the controls are there */ });
    if (job.grid_url) {
      const grid = await fetchBlobUrl(job.grid_url);
      $('grid-link').href = grid;
      $('grid-link').download = `${job.id}-grid.mp4`;
      $('grid-link').hidden = false;
    } else {
      $('grid-link').hidden = true;
    }
  } catch (e) {
    $('job-error').textContent = 'Cannot load the result: ' + e.message;
    delete video.dataset.jobId;
  }
}

// Reads the job's event stream; reconnects if it drops before the job ends.
async function follow(id, controller) {
  while (!controller.signal.aborted) {
    let last = null;
    try {
      const res = await api(`/v1/animations/${id}/events`, { signal: controller.signal });
      if (res.status === 404) { $('current').hidden = true; refreshList(); return; }  // deleted meanwhile
      if (!res.ok) throw new Error(await errorOf(res));
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
          if (!data) continue;
          last = JSON.parse(data);
          if (last.deleted) { $('current').hidden = true; return; }
          render(last);
        }
      }
    } catch (e) {
      if (controller.signal.aborted) return;
      $('job-error').textContent = 'Lost the progress stream: ' + e.message + ' (retrying)';
    }
    if (last && finished(last.status)) { refreshList(); return; }
    await new Promise((r) => setTimeout(r, 1500));
  }
}

function watch(id) {
  if (state.stream) state.stream.abort();
  for (const url of state.resultUrls) URL.revokeObjectURL(url);
  state.resultUrls = [];
  state.current = id;
  const video = $('result-video');
  video.pause();
  video.removeAttribute('src');
  delete video.dataset.jobId;
  $('result').hidden = true;
  $('job-error').textContent = '';
  $('progress').value = 0;
  $('current').hidden = false;
  state.stream = new AbortController();
  follow(id, state.stream);
}

async function remove(id) {
  const res = await api(`/v1/animations/${id}`, { method: 'DELETE' });
  if (!res.ok) {
    alert(await errorOf(res));
  } else if ((await res.json()).deleted && id === state.current) {
    if (state.stream) state.stream.abort();
    $('current').hidden = true;
  }
  refreshList();
}

// ---- past jobs ----------------------------------------------------------

async function refreshList() {
  clearTimeout(state.listTimer);
  let jobs = [];
  try {
    const res = await api('/v1/animations');
    if (!res.ok) throw new Error(await errorOf(res));
    jobs = (await res.json()).animations;
  } catch (e) {
    state.listTimer = setTimeout(refreshList, 5000);
    return;
  }
  const body = $('jobs').querySelector('tbody');
  body.replaceChildren();
  for (const job of jobs) {
    const row = document.createElement('tr');
    row.dataset.jobId = job.id;
    const cell = (text) => { const td = document.createElement('td'); td.textContent = text; row.append(td); return td; };
    cell(new Date(job.created_at * 1000).toLocaleString());
    cell(`${job.inputs.source} + ${job.inputs.motion}`);
    cell(String(job.frames));
    cell(settingsText(job.params));
    const status = cell('');
    const badge = document.createElement('span');
    badge.className = 'badge ' + job.status;
    badge.textContent = job.status === 'running' && job.progress ? `running ${Math.round(job.progress.fraction * 100)}%` : job.status;
    if (job.error) badge.title = job.error;
    status.append(badge);
    const actions = cell('');
    actions.className = 'actions-cell';
    const button = (label, onClick) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'secondary small';
      b.textContent = label;
      b.onclick = onClick;
      actions.append(b);
    };
    button(job.status === 'done' ? 'Play' : 'Show', () => watch(job.id));
    button(finished(job.status) ? 'Delete' : 'Cancel', () => remove(job.id));
    body.append(row);
  }
  $('jobs-empty').hidden = jobs.length > 0;
  if (jobs.some((j) => !finished(j.status))) state.listTimer = setTimeout(refreshList, 3000);
}

// ---- start --------------------------------------------------------------

$('source-input').addEventListener('change', () => preview($('source-input'), $('source-preview')));
$('motion-input').addEventListener('change', () => preview($('motion-input'), $('motion-preview')));
$('submit-form').addEventListener('submit', submit);
$('cancel').addEventListener('click', () => state.current && remove(state.current));
$('refresh').addEventListener('click', refreshList);
loadDefaults();
refreshList();
