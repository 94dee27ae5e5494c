/* capsearch search page. Plain JS, no libraries, no build step: this file is
 * embedded in the capsearch binary and served at /app.js. It talks only to
 * the page's own origin (the JSON API described in /openapi.yaml). */
'use strict';

(() => {
  const PAGE_SIZE = 24;            // results per request (a multiple of 2, 3, 4 and 6 columns)
  const POLL_MS = 500;             // job progress polling interval
  const MAX_UPLOAD = 32 * 1024 * 1024;   // the server refuses bigger bodies (413)
  const TOKEN_KEY = 'capsearch.token';
  const FILTERS = ['folder', 'from', 'to', 'type', 'camera', 'has_text', 'has_faces'];
  // Filters shown as checkboxes: '1' when ticked, as the API takes them.
  const CHECKBOXES = new Set(['has_text', 'has_faces']);
  // File extension -> the format names the API's `type` filter uses. Only
  // needed to filter "similar" results on the page (see passesFilters).
  const EXT_TYPES = {
    jpg: 'jpeg', jpeg: 'jpeg', jpe: 'jpeg', png: 'png', gif: 'gif', webp: 'webp',
    heic: 'heif', heif: 'heif', avif: 'heif', bmp: 'bmp', tga: 'tga',
    pnm: 'pnm', pbm: 'pnm', pgm: 'pnm', ppm: 'pnm', pam: 'pnm',
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    form: $('search-form'), q: $('q'), folder: $('folder'), from: $('from'), to: $('to'),
    type: $('type'), camera: $('camera'), has_text: $('has_text'), has_faces: $('has_faces'),
    clearFilters: $('clear-filters'), filtersToggle: $('filters-toggle'), pick: $('pick-image'), file: $('image-file'),
    status: $('status'), announcer: $('announcer'), error: $('error'), welcome: $('welcome'),
    welcomeStats: $('welcome-stats'), empty: $('empty'), grid: $('results'),
    sentinel: $('sentinel'), loading: $('loading'),
    banner: $('similar-banner'), bannerThumb: $('similar-thumb'), bannerName: $('similar-name'),
    fileThumb: $('file-thumb'),
    bannerClear: $('similar-clear'),
    tokenForm: $('token-form'), token: $('token'), tokenStatus: $('token-status'),
    forgetToken: $('forget-token'),
    dialog: $('detail'), dImg: $('detail-img'), dTitle: $('detail-title'),
    dCaption: $('detail-caption'), dFacts: $('detail-facts'), dTags: $('detail-tags'),
    dSimilar: $('detail-similar'), dOriginal: $('detail-original'), dClose: $('detail-close'),
    dError: $('detail-error'),
    indexPanel: $('index-panel'), indexForm: $('index-form'), indexPath: $('index-path'),
    indexStart: $('index-start'), job: $('job'), jobProgress: $('job-progress'),
    jobText: $('job-text'), jobCancel: $('job-cancel'), jobBadge: $('job-badge'),
    drop: $('drop-overlay'),
  };

  /* ------------------------------------------------------------------ API */

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function getToken() {
    try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
  }

  // <img> cannot send an Authorization header, so image URLs carry ?token=.
  function withToken(url) {
    const token = getToken();
    if (!token || !url) return url;
    const u = new URL(url, location.origin);
    u.searchParams.set('token', token);
    return u.pathname + u.search;
  }

  // fetch() wrapper: adds the token, turns every failure into an ApiError
  // with a sentence a person can read, and asks for a token on 401.
  async function api(path, { method = 'GET', body, headers = {}, signal } = {}) {
    const token = getToken();
    const sent = { ...headers };
    if (token) sent.Authorization = `Bearer ${token}`;
    let response;
    let text;
    try {
      response = await fetch(path, { method, body, headers: sent, signal, cache: 'no-store' });
      text = await response.text();
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network',
        'Cannot reach the capsearch server. Is “capsearch serve” still running?');
    }
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { /* reported below */ }
    if (!response.ok) {
      if (response.status === 401) askForToken(Boolean(token));
      const e = data && data.error;
      throw new ApiError(response.status, (e && e.code) || `http_${response.status}`,
        (e && e.message) || `The server answered ${response.status} ${response.statusText}.`);
    }
    if (data === null) {
      throw new ApiError(response.status, 'bad_response', 'The server sent an answer that is not JSON.');
    }
    return data;
  }

  /* ------------------------------------------------------- messages, states */

  function showError(e) {
    if (e && e.status === 401) return;       // the token form explains it
    el.error.textContent = (e && e.message) || String(e);
    el.error.hidden = false;
  }

  function clearError() {
    el.error.hidden = true;
    el.error.textContent = '';
  }

  function announce(text) {
    el.announcer.textContent = text;
  }

  function setStatus(text) {
    el.status.textContent = text;
  }

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many}`;
  }

  function basename(path) {
    return String(path || '').split('/').filter(Boolean).pop() || String(path || '');
  }

  /* ---------------------------------------------------------- URL <-> state */

  // The search lives in the URL so it can be bookmarked, shared and navigated
  // with back/forward: ?q=&folder=&from=&to=&type=&camera=&has_text=1&has_faces=1&similar=ID
  function readURL() {
    const p = new URLSearchParams(location.search);
    const state = { q: p.get('q') || '', similar: p.get('similar') || '' };
    for (const f of FILTERS) state[f] = p.get(f) || '';
    for (const f of CHECKBOXES) state[f] = state[f] === '1' ? '1' : '';
    return state;
  }

  function buildURL(state, { image = false } = {}) {
    const p = new URLSearchParams();
    if (!image && state.q) p.set('q', state.q);
    if (!image && state.similar) p.set('similar', state.similar);
    for (const f of FILTERS) if (state[f]) p.set(f, state[f]);
    const qs = p.toString();
    return qs ? `${location.pathname}?${qs}` : location.pathname;
  }

  function readForm() {
    const state = { q: el.q.value.trim() };
    for (const f of FILTERS) {
      state[f] = CHECKBOXES.has(f) ? (el[f].checked ? '1' : '') : el[f].value.trim();
    }
    return state;
  }

  function fillForm(state) {
    el.q.value = state.q || '';
    for (const f of FILTERS) {
      if (CHECKBOXES.has(f)) el[f].checked = state[f] === '1';
      else el[f].value = state[f] || '';
    }
    // An unknown type in a shared URL would leave the select blank: show "any".
    if (el.type.value !== (state.type || '')) el.type.value = '';
    // On a phone the filters are folded away: the button says how many apply.
    const active = FILTERS.filter((f) => state[f]).length;
    el.filtersToggle.textContent = active ? `Filters (${active})` : 'Filters';
    el.clearFilters.hidden = !active;
  }

  function toggleFilters() {
    const open = el.form.classList.toggle('filters-open');
    el.filtersToggle.setAttribute('aria-expanded', String(open));
    if (open) el.folder.focus();
  }

  // Goes to a new search: one history entry per search, none for repeats.
  function navigate(state, { image = false } = {}) {
    const url = buildURL(state, { image });
    const same = url === location.pathname + location.search;
    const entry = image ? { image: true } : null;
    if (same && !image) history.replaceState(entry, '', url);
    else history.pushState(entry, '', url);
    run(state, { image });
  }

  /* ------------------------------------------------------------- searching */

  let view = null;            // the search on screen: { state, mode, offset, hasMore, ... }
  let imageFile = null;       // the last file searched by image (cannot live in the URL)

  function modeOf(state, image) {
    if (image) return imageFile ? 'image' : 'home';
    if (state.similar) return 'similar';
    // filters without words: the server lists their photos, newest first
    if (state.q || FILTERS.some((f) => state[f])) return 'text';
    return 'home';
  }

  // Starts the search described by `state` from its first page.
  function run(state, { image = false } = {}) {
    if (view && view.abort) view.abort.abort();
    fillForm(state);
    clearError();
    el.grid.replaceChildren();
    el.empty.hidden = true;
    el.welcome.hidden = true;
    const mode = modeOf(state, image);
    view = { state, mode, offset: 0, shown: 0, hasMore: mode !== 'home', loading: false,
      abort: new AbortController(), candidates: 0, took: 0 };
    document.title = state.q && mode === 'text' ? `${state.q} – capsearch` : 'capsearch';
    showBanner(view);
    if (mode === 'home') {
      showHome();
      return;
    }
    if (mode === 'similar' && !/^\d+$/.test(state.similar)) {
      view.hasMore = false;
      setStatus('');
      showError(new Error(`“${state.similar}” is not an image id.`));
      return;
    }
    setStatus('Searching…');
    loadPage();
  }

  function pageURL(v) {
    const p = new URLSearchParams({ k: String(PAGE_SIZE), offset: String(v.offset) });
    for (const f of FILTERS) if (v.state[f]) p.set(f, v.state[f]);
    if (v.mode === 'text') {
      if (v.state.q) p.set('q', v.state.q);
      return `/api/search?${p}`;
    }
    if (v.mode === 'similar') return `/api/images/${encodeURIComponent(v.state.similar)}/similar?${p}`;
    return `/api/search/image?${p}`;
  }

  function fetchPage(v) {
    const url = pageURL(v);
    if (v.mode !== 'image') return api(url, { signal: v.abort.signal });
    return api(url, {
      method: 'POST', body: imageFile, signal: v.abort.signal,
      headers: { 'Content-Type': imageFile.type || 'application/octet-stream' },
    });
  }

  // Fetches and shows the next page of the current search (infinite scroll).
  async function loadPage() {
    const v = view;
    if (!v || v.loading || !v.hasMore) return;
    v.loading = true;
    el.loading.hidden = false;
    try {
      const data = await fetchPage(v);
      if (v !== view) return;             // a newer search replaced this one
      const got = Array.isArray(data.results) ? data.results : [];
      v.offset += got.length;
      v.candidates = data.candidates || 0;
      v.took = data.took_ms;
      // A full page may have a next one. (`candidates` is not a total to page
      // against: a ranking source may stop early.)
      v.hasMore = got.length >= PAGE_SIZE;
      // The text search filters on the server; "similar" and "by image" may
      // not, so their results are also filtered here (a no-op if they do).
      const kept = v.mode === 'text' ? got : got.filter((r) => passesFilters(r, v.state));
      appendTiles(kept);
      showCounts(v);
    } catch (e) {
      if (v !== view || e.name === 'AbortError') return;
      v.hasMore = false;
      setStatus(e.status === 401 ? 'An access token is needed.' : 'The search failed.');
      showError(e);
    } finally {
      if (v === view) {
        v.loading = false;
        el.loading.hidden = true;
        el.grid.dataset.hasMore = String(v.hasMore);
        recheckSentinel();
      }
    }
  }

  function passesFilters(r, state) {
    const path = String(r.path || '');
    if (state.folder) {
      const folder = state.folder.replace(/\/+$/, '');
      if (!path.startsWith(`${folder}/`)) return false;
    }
    if (state.from || state.to) {
      const day = String(r.taken_at || '').slice(0, 10);
      if (!day) return false;
      if (state.from && day < state.from) return false;
      if (state.to && day > state.to) return false;
    }
    if (state.type) {
      const t = EXT_TYPES[path.split('.').pop().toLowerCase()];
      if (t && t !== state.type) return false;
    }
    return true;
  }

  function showCounts(v) {
    const filtered = FILTERS.some((f) => v.state[f]);
    const took = typeof v.took === 'number' ? ` · ${v.took.toFixed(1)} ms` : '';
    const more = v.hasMore ? '+' : '';
    const listing = v.mode === 'text' && !v.state.q;
    let what = '';
    if (listing) what = ', newest first';
    else if (v.mode === 'text') what = ` for “${v.state.q}”`;
    else what = ' that look alike';
    if (v.shown === 0 && !v.hasMore) {
      el.empty.textContent = listing
        ? 'No photos match these filters. Try other filters or clear them.'
        : v.mode === 'text'
        ? `No photos match “${v.state.q}”${filtered ? ' with these filters' : ''}. Try other words${filtered ? ' or clear the filters' : ''}.`
        : `No other photos look like this one${filtered ? ' with these filters' : ''}.`;
      el.empty.hidden = false;
      setStatus(`No results${what}${took}`);
      return;
    }
    el.empty.hidden = true;
    setStatus(`${v.shown}${more} ${v.shown === 1 && !more ? 'photo' : 'photos'}${what}` +
      `${filtered ? ' (filtered)' : ''} · ${plural(v.candidates, 'candidate', 'candidates')}${took}`);
  }

  async function showHome() {
    setStatus('');
    el.welcome.hidden = false;
    el.welcomeStats.textContent = '';
    try {
      const s = await api('/api/stats');
      if (view.mode !== 'home') return;
      el.welcomeStats.textContent = s.images
        ? `${plural(s.images, 'photo', 'photos')} indexed (${formatBytes(s.image_bytes)}).`
        : 'Nothing is indexed yet: use “Index a folder” above to add your photos.';
      if (!s.images) el.indexPanel.open = true;
    } catch (e) {
      showError(e);
    }
  }

  /* ------------------------------------------------------------- the grid */

  function appendTiles(items) {
    const fragment = document.createDocumentFragment();
    for (const r of items) {
      fragment.append(makeTile(r, view.shown === 0));
      view.shown += 1;
    }
    el.grid.append(fragment);
  }

  function makeTile(r, first) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'tile';
    button.dataset.id = r.id;
    button.dataset.path = r.path || '';
    button.tabIndex = first ? 0 : -1;   // roving tabindex: Tab enters the grid once
    button.title = basename(r.path);

    const img = document.createElement('img');
    img.loading = 'lazy';
    img.decoding = 'async';
    img.width = 256;
    img.height = 256;
    img.alt = r.caption || basename(r.path);
    img.addEventListener('load', () => button.classList.add('loaded'));
    img.addEventListener('error', () => button.classList.add('broken'));
    img.src = withToken(r.thumbnail || `/api/images/${r.id}/thumb?size=256`);

    const info = document.createElement('span');
    info.className = 'tile-info';
    const caption = document.createElement('span');
    caption.className = 'tile-caption';
    caption.textContent = r.caption || basename(r.path);
    caption.setAttribute('aria-hidden', 'true');      // already the image's alt text
    const score = document.createElement('span');
    score.className = 'tile-score';
    score.textContent = typeof r.score === 'number' ? `score ${formatScore(r.score)}` : '';
    info.append(caption, score);

    button.append(img, info);
    li.append(button);
    return li;
  }

  function formatScore(s) {
    return Math.abs(s) >= 0.1 ? s.toFixed(3) : s.toPrecision(3);
  }

  function tiles() {
    return Array.from(el.grid.querySelectorAll('.tile'));
  }

  // Number of grid columns as laid out now (the grid uses auto-fill).
  function columnCount() {
    const cols = getComputedStyle(el.grid).gridTemplateColumns.split(' ').filter(Boolean);
    return Math.max(1, cols.length);
  }

  function focusTile(tile) {
    for (const t of el.grid.querySelectorAll('.tile[tabindex="0"]')) t.tabIndex = -1;
    tile.tabIndex = 0;
    tile.focus();
    tile.scrollIntoView({ block: 'nearest' });
  }

  // Arrow keys move by one tile or one row; Home/End to the ends.
  function onGridKey(e) {
    const tile = e.target.closest('.tile');
    if (!tile || e.altKey || e.ctrlKey || e.metaKey) return;
    const all = tiles();
    const i = all.indexOf(tile);
    const cols = columnCount();
    const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -cols, ArrowDown: cols,
      Home: -i, End: all.length - 1 - i };
    if (!(e.key in moves)) return;
    e.preventDefault();
    const j = i + moves[e.key];
    if (j < 0 || j >= all.length) {
      if (j >= all.length) loadPage();     // at the bottom: fetch more, stay put
      return;
    }
    focusTile(all[j]);
  }

  function onGridClick(e) {
    const tile = e.target.closest('.tile');
    if (!tile) return;
    focusTile(tile);
    openDetail(tile.dataset.id, tile);
  }

  // Infinite scroll: a sentinel below the grid loads the next page when it
  // comes within 800 px of the viewport.
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadPage();
  }, { rootMargin: '0px 0px 800px 0px' });

  // The observer only reports changes; re-observing makes it report the
  // current state, so a short page that leaves the sentinel visible still
  // leads to the next one.
  function recheckSentinel() {
    observer.unobserve(el.sentinel);
    if (view && view.hasMore) observer.observe(el.sentinel);
  }

  /* --------------------------------------------------- similar/image banner */

  function showBanner(v) {
    el.fileThumb.hidden = true;
    if (v.mode === 'similar' && /^\d+$/.test(v.state.similar)) {
      el.bannerThumb.src = withToken(`/api/images/${v.state.similar}/thumb?size=256`);
      el.bannerName.textContent = `photo ${v.state.similar}`;
      el.banner.hidden = false;
      api(`/api/images/${v.state.similar}`).then((info) => {
        if (view === v) el.bannerName.textContent = basename(info.path);
      }).catch(() => { /* the similar search reports the error */ });
    } else if (v.mode === 'image') {
      el.bannerThumb.hidden = true;
      el.bannerThumb.removeAttribute('src');
      el.bannerName.textContent = imageFile.name || 'the dropped image';
      el.banner.hidden = false;
      drawFileThumb(imageFile);
    } else {
      el.banner.hidden = true;
      el.bannerThumb.removeAttribute('src');
    }
  }

  // The dropped file's preview is drawn on a canvas from the decoded bitmap:
  // no blob: URL, so a strict Content-Security-Policy (img-src 'self') is fine.
  async function drawFileThumb(file) {
    try {
      const bitmap = await createImageBitmap(file);
      const canvas = el.fileThumb;
      const side = Math.min(bitmap.width, bitmap.height);       // centre square crop
      const ctx = canvas.getContext('2d');
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side,
        0, 0, canvas.width, canvas.height);
      bitmap.close();
      if (imageFile === file && view && view.mode === 'image') canvas.hidden = false;
    } catch {
      el.fileThumb.hidden = true;       // a format the browser cannot decode (HEIC, TGA, ...)
    }
  }

  function leaveSimilar() {
    navigate({ ...readURL(), ...readForm(), similar: '' });
  }

  /* --------------------------------------------------------- search by image */

  function isImageFile(file) {
    return file && (file.type.startsWith('image/') ||
      Object.hasOwn(EXT_TYPES, file.name.split('.').pop().toLowerCase()));
  }

  function searchByImage(file) {
    if (!isImageFile(file)) {
      showError(new Error(`“${file ? file.name : 'That'}” is not an image file.`));
      return;
    }
    if (file.size > MAX_UPLOAD) {
      showError(new Error(`“${file.name}” is larger than 32 MB; the server will not take it.`));
      return;
    }
    imageFile = file;
    navigate({ ...readForm(), q: '', similar: '' }, { image: true });
  }

  function hasFiles(e) {
    return e.dataTransfer && Array.from(e.dataTransfer.types).includes('Files');
  }

  // dragenter/dragleave fire for every child element crossed: count them.
  let dragDepth = 0;

  function onDragEnter(e) {
    if (!hasFiles(e)) return;
    e.preventDefault();
    dragDepth += 1;
    el.drop.hidden = false;
  }

  function onDragOver(e) {
    if (!hasFiles(e)) return;
    e.preventDefault();                 // allows dropping
    e.dataTransfer.dropEffect = 'copy';
  }

  function onDragLeave(e) {
    if (!hasFiles(e)) return;
    dragDepth -= 1;
    if (dragDepth <= 0) hideDrop();
  }

  function hideDrop() {
    dragDepth = 0;
    el.drop.hidden = true;
  }

  function onDrop(e) {
    if (!hasFiles(e)) return;
    e.preventDefault();                 // otherwise the browser opens the file
    hideDrop();
    const files = Array.from(e.dataTransfer.files);
    searchByImage(files.find(isImageFile) || files[0]);
  }

  /* ------------------------------------------------------------ detail view */

  let detailReturn = null;   // the tile to give focus back to
  let detailId = null;

  async function openDetail(id, fromTile) {
    detailReturn = fromTile || null;
    detailId = id;
    resetDetail(id);
    if (!el.dialog.open) el.dialog.showModal();
    el.dClose.focus();
    try {
      const info = await api(`/api/images/${encodeURIComponent(id)}`);
      if (detailId === id) fillDetail(info);
    } catch (e) {
      if (detailId !== id || e.status === 401) return;
      el.dError.textContent = e.message;
      el.dError.hidden = false;
    }
  }

  function resetDetail(id) {
    el.dialog.classList.remove('ready');
    el.dImg.alt = '';
    el.dImg.src = withToken(`/api/images/${id}/thumb?size=1024`);
    el.dTitle.textContent = 'Loading…';
    el.dCaption.textContent = '';
    el.dFacts.replaceChildren();
    el.dTags.replaceChildren();
    el.dError.hidden = true;
    el.dOriginal.href = withToken(`/api/images/${id}/file`);
  }

  function fillDetail(info) {
    el.dialog.classList.add('ready');
    el.dTitle.textContent = basename(info.path);
    el.dCaption.textContent = info.caption || '';
    el.dImg.alt = info.caption || basename(info.path);
    el.dOriginal.href = withToken(info.file || `/api/images/${info.id}/file`);
    el.dFacts.replaceChildren(...facts(info).flatMap(([name, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = name;
      const dd = document.createElement('dd');
      dd.append(value);
      return [dt, dd];
    }));
    el.dTags.replaceChildren(...(info.tags || []).map(makeTag));
    if (!info.tags || !info.tags.length) {
      const li = document.createElement('li');
      li.className = 'muted';
      li.textContent = 'No tags.';
      el.dTags.append(li);
    }
  }

  // [label, text-or-node] pairs for the facts list; unknown facts are left out.
  function facts(info) {
    const out = [];
    if (info.taken_at) out.push(['Taken', formatTaken(info.taken_at)]);
    const camera = formatCamera(info.camera_make, info.camera_model);
    if (camera) out.push(['Camera', camera]);
    if (info.gps && typeof info.gps.lat === 'number') out.push(['Location', formatGps(info.gps)]);
    if (info.width && info.height) {
      const mp = (info.width * info.height) / 1e6;
      out.push(['Dimensions', `${info.width} × ${info.height} px (${mp.toFixed(1)} MP)`]);
    }
    if (typeof info.size === 'number') out.push(['File size', formatBytes(info.size)]);
    if (info.format) out.push(['Format', String(info.format).toUpperCase()]);
    if (info.folder) out.push(['Folder', folderLink(info.folder)]);
    if (info.path) out.push(['File', basename(info.path)]);
    if (info.mtime) out.push(['Modified', new Date(info.mtime * 1000).toLocaleString()]);
    return out;
  }

  // The folder, as a button that filters the search to it.
  function folderLink(folder) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'link break';
    b.textContent = folder;
    b.title = 'Show only photos in this folder';
    b.addEventListener('click', () => {
      el.dialog.close();
      navigate({ ...readURL(), folder });
    });
    return b;
  }

  function makeTag(t) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'tag';
    b.title = `Search for “${t.tag}”`;
    const name = document.createElement('span');
    name.textContent = t.tag;
    const meta = document.createElement('small');
    const score = typeof t.score === 'number' ? ` ${t.score.toFixed(2)}` : '';
    meta.textContent = `${t.kind || ''}${score}`.trim();
    b.append(name, ' ', meta);
    b.addEventListener('click', () => {
      el.dialog.close();
      navigate({ ...readURL(), q: t.tag, similar: '' });
    });
    li.append(b);
    return li;
  }

  function moreLikeThis() {
    const id = detailId;
    el.dialog.close();
    detailReturn = null;               // the grid is about to be replaced
    navigate({ ...readURL(), similar: String(id) });
    el.grid.focus({ preventScroll: true });
  }

  function onDialogClose() {
    detailId = null;
    el.dImg.removeAttribute('src');    // stop a large download nobody will see
    if (detailReturn && detailReturn.isConnected) detailReturn.focus();
  }

  /* -------------------------------------------------------------- formats */

  // taken_at is wall-clock time without a zone: parse it as local time so it
  // is shown as written on the camera.
  function formatTaken(s) {
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(s);
    if (!m) return s;
    const d = new Date(+m[1], m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));
    const options = { dateStyle: 'long' };
    if (m[4]) options.timeStyle = 'short';
    return d.toLocaleString(undefined, options);
  }

  function formatCamera(make, model) {
    make = (make || '').trim();
    model = (model || '').trim();
    // "Canon" + "Canon EOS 80D" -> "Canon EOS 80D"
    if (make && model.toLowerCase().startsWith(make.split(' ')[0].toLowerCase())) return model;
    return [make, model].filter(Boolean).join(' ');
  }

  function formatGps({ lat, lon }) {
    const ns = lat >= 0 ? 'N' : 'S';
    const ew = lon >= 0 ? 'E' : 'W';
    return `${Math.abs(lat).toFixed(5)}° ${ns}, ${Math.abs(lon).toFixed(5)}° ${ew}`;
  }

  function formatBytes(n) {
    if (typeof n !== 'number' || !isFinite(n)) return '';
    const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
    return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
  }

  function formatSeconds(s) {
    if (!isFinite(s) || s < 0) return '';
    if (s < 60) return `${Math.ceil(s)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
    return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  }

  /* ------------------------------------------------------------- indexing */

  let job = null;            // the job being shown
  let pollTimer = 0;
  const FINISHED = ['done', 'failed', 'cancelled'];

  async function startIndex(e) {
    e.preventDefault();
    const path = el.indexPath.value.trim();
    if (!path.startsWith('/')) {
      showJobMessage('Give the folder as an absolute path, like /home/me/Pictures.', true);
      return;
    }
    el.indexStart.disabled = true;
    try {
      const data = await api('/api/index', {
        method: 'POST', body: JSON.stringify({ path }),
        headers: { 'Content-Type': 'application/json' },
      });
      announce(`Indexing ${path}.`);
      trackJob(data.job);
    } catch (err) {
      el.indexStart.disabled = false;
      if (err.status !== 401) showJobMessage(err.message, true);
    }
  }

  function showJobMessage(text, isError) {
    el.job.hidden = false;
    el.jobProgress.hidden = true;
    el.jobCancel.hidden = true;
    el.jobText.textContent = text;
    el.jobText.classList.toggle('error-text', Boolean(isError));
  }

  function trackJob(j) {
    job = j;
    clearTimeout(pollTimer);
    el.indexPanel.open = true;
    el.indexStart.disabled = true;
    el.jobCancel.disabled = false;
    renderJob(j);
    if (FINISHED.includes(j.state)) finishJob(j);
    else pollTimer = setTimeout(pollJob, POLL_MS);
  }

  async function pollJob() {
    const id = job.id;
    try {
      const data = await api(`/api/jobs/${id}`);
      if (!job || job.id !== id) return;
      job = data.job;
      renderJob(job);
      if (FINISHED.includes(job.state)) return finishJob(job);
      pollTimer = setTimeout(pollJob, POLL_MS);
    } catch (e) {
      if (e.status === 404 || e.status === 401) {
        showJobMessage(e.status === 404 ? 'The server no longer knows this job (was it restarted?).'
          : 'An access token is needed to follow the indexing.', true);
        el.indexStart.disabled = false;
        return;
      }
      // A hiccup (server busy, network): say so and keep trying, more slowly.
      el.jobText.textContent = `${e.message} Retrying…`;
      pollTimer = setTimeout(pollJob, POLL_MS * 4);
    }
  }

  function renderJob(j) {
    el.job.hidden = false;
    el.jobProgress.hidden = false;
    el.jobCancel.hidden = FINISHED.includes(j.state);
    el.jobText.classList.remove('error-text');
    if (j.total > 0) {
      el.jobProgress.max = j.total;
      el.jobProgress.value = j.done;
    } else {
      el.jobProgress.removeAttribute('value');     // indeterminate while walking
    }
    const parts = [`${j.state === 'queued' ? 'Waiting' : 'Indexing'} ${j.path}`];
    if (j.total > 0) parts.push(`${j.done} / ${j.total} files`);
    if (j.files_per_s > 0) parts.push(`${j.files_per_s.toFixed(1)} files/s`);
    if (j.state === 'running' && j.eta_s > 0) parts.push(`about ${formatSeconds(j.eta_s)} left`);
    el.jobText.textContent = parts.join(' · ');
    // The summary shows the percentage, so progress is visible with the panel closed.
    el.jobBadge.hidden = FINISHED.includes(j.state);
    el.jobBadge.textContent = j.total > 0 ? `${Math.floor((100 * j.done) / j.total)}%` : '…';
  }

  function finishJob(j) {
    el.indexStart.disabled = false;
    el.jobBadge.hidden = true;
    el.jobCancel.hidden = true;
    let text;
    if (j.state === 'done') {
      text = `Done: ${j.indexed} new or changed, ${j.reused} reused, ${j.unchanged} unchanged, ` +
        `${j.removed} removed, ${j.failed} failed.`;
      el.jobProgress.max = 1;
      el.jobProgress.value = 1;
    } else if (j.state === 'cancelled') {
      text = `Cancelled after ${j.done} of ${j.total} files.`;
    } else {
      text = `Indexing failed: ${j.error || 'no reason given'}.`;
    }
    el.jobText.textContent = text;
    el.jobText.classList.toggle('error-text', j.state === 'failed');
    announce(text);
    // New photos may match: run the current search again.
    if (j.state !== 'failed') run(readURL(), { image: Boolean(history.state && history.state.image) });
  }

  // The panel floats over the results: a click elsewhere folds it (the job
  // goes on; the badge on its button keeps showing the progress).
  function closeIndexPanelOutside(e) {
    if (el.indexPanel.open && !el.indexPanel.contains(e.target)) el.indexPanel.open = false;
  }

  async function cancelJob() {
    if (!job) return;
    el.jobCancel.disabled = true;
    try {
      const data = await api(`/api/jobs/${job.id}`, { method: 'DELETE' });
      renderJob(data.job);
      el.jobText.textContent += ' · stopping…';
    } catch (e) {
      el.jobCancel.disabled = false;
      if (e.status !== 401) el.jobText.textContent = e.message;
    }
  }

  // A job started elsewhere (another tab, the CLI through the server) is
  // shown when the page opens.
  async function resumeRunningJob() {
    try {
      const data = await api('/api/jobs');
      const active = (data.jobs || []).find((j) => !FINISHED.includes(j.state));
      if (active && !job) trackJob(active);
    } catch { /* not essential; a 401 already brought up the token form */ }
  }

  /* ----------------------------------------------------------------- token */

  function askForToken(hadToken) {
    if (!el.tokenForm.hidden) return;
    el.tokenForm.hidden = false;
    el.welcome.hidden = true;
    el.tokenForm.querySelector('p').textContent = hadToken
      ? 'The stored access token was refused. Enter the token this capsearch server was started with.'
      : 'This capsearch server is protected. Enter the token it was started with; it is kept in this browser only.';
    setStatus('An access token is needed.');
    el.token.focus();
  }

  function saveToken(e) {
    e.preventDefault();
    try {
      localStorage.setItem(TOKEN_KEY, el.token.value.trim());
    } catch {
      showError(new Error('This browser does not allow storing the token (private mode?).'));
      return;
    }
    el.token.value = '';
    el.tokenForm.hidden = true;
    el.tokenStatus.hidden = false;
    run(readURL(), { image: Boolean(history.state && history.state.image) });
    resumeRunningJob();
  }

  function forgetToken() {
    try { localStorage.removeItem(TOKEN_KEY); } catch { /* nothing stored */ }
    el.tokenStatus.hidden = true;
    announce('The access token was forgotten.');
  }

  /* -------------------------------------------------------------- keyboard */

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT') return true;
    if (target.tagName !== 'INPUT') return false;
    return !['button', 'submit', 'checkbox', 'radio', 'file', 'reset'].includes(target.type);
  }

  function onGlobalKey(e) {
    if (e.key === '/' && !e.ctrlKey && !e.metaKey && !e.altKey && !isTyping(e.target) && !el.dialog.open) {
      e.preventDefault();              // do not type the slash
      el.q.focus();
      el.q.select();
    } else if (e.key === 'Escape' && !el.drop.hidden) {
      hideDrop();
    }
  }

  /* ----------------------------------------------------------------- wiring */

  function onSubmit(e) {
    e.preventDefault();
    const form = readForm();
    const current = readURL();
    // Enter in a filter field keeps the current mode (similar / by image);
    // the search box and the Search button start a text search.
    // (Enter in any field reports the Search button as submitter, so look at
    // where the focus is; a clicked button may not take focus in every browser.)
    const active = document.activeElement;
    const fromSearchBox = active === el.q || active === e.submitter || !el.form.contains(active);
    if (!fromSearchBox && view && view.mode === 'image') return navigate(form, { image: true });
    if (!fromSearchBox && current.similar) return navigate({ ...form, similar: current.similar });
    navigate({ ...form, similar: '' });
  }

  // Changing a filter re-runs the search on screen, whatever its mode.
  function onFilterChange() {
    const form = readForm();
    if (view && view.mode === 'image') return navigate({ ...form, q: '' }, { image: true });
    navigate({ ...form, similar: readURL().similar });
  }

  function clearFilters() {
    for (const f of FILTERS) {
      if (CHECKBOXES.has(f)) el[f].checked = false;
      else el[f].value = '';
    }
    onFilterChange();
    el.folder.focus();                 // the button just hid itself
  }

  function onPopState() {
    const image = Boolean(history.state && history.state.image);
    if (el.dialog.open) el.dialog.close();
    run(readURL(), { image });
  }

  function wire() {
    el.form.addEventListener('submit', onSubmit);
    for (const f of ['from', 'to', 'type', 'has_text', 'has_faces']) {
      el[f].addEventListener('change', onFilterChange);
    }
    el.clearFilters.addEventListener('click', clearFilters);
    el.filtersToggle.addEventListener('click', toggleFilters);
    el.bannerThumb.addEventListener('error', () => { el.bannerThumb.hidden = true; });
    el.bannerThumb.addEventListener('load', () => { el.bannerThumb.hidden = false; });
    document.addEventListener('click', closeIndexPanelOutside);
    el.indexPanel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && el.indexPanel.open) {
        el.indexPanel.open = false;
        el.indexPanel.querySelector('summary').focus();
      }
    });
    el.pick.addEventListener('click', () => el.file.click());
    el.file.addEventListener('change', () => {
      if (el.file.files.length) searchByImage(el.file.files[0]);
      el.file.value = '';              // picking the same file again still fires
    });
    el.bannerClear.addEventListener('click', leaveSimilar);
    el.grid.addEventListener('click', onGridClick);
    el.grid.addEventListener('keydown', onGridKey);
    el.dSimilar.addEventListener('click', moreLikeThis);
    el.dClose.addEventListener('click', () => el.dialog.close());
    el.dialog.addEventListener('close', onDialogClose);
    // A click on the backdrop lands on the <dialog> itself: close.
    el.dialog.addEventListener('click', (e) => { if (e.target === el.dialog) el.dialog.close(); });
    el.dImg.addEventListener('error', () => { if (el.dImg.getAttribute('src')) el.dialog.classList.add('no-image'); });
    el.dImg.addEventListener('load', () => el.dialog.classList.remove('no-image'));
    el.indexForm.addEventListener('submit', startIndex);
    el.jobCancel.addEventListener('click', cancelJob);
    el.tokenForm.addEventListener('submit', saveToken);
    el.forgetToken.addEventListener('click', forgetToken);
    document.addEventListener('keydown', onGlobalKey);
    document.addEventListener('dragenter', onDragEnter);
    document.addEventListener('dragover', onDragOver);
    document.addEventListener('dragleave', onDragLeave);
    document.addEventListener('drop', onDrop);
    el.drop.addEventListener('click', hideDrop);
    window.addEventListener('popstate', onPopState);
  }

  function start() {
    wire();
    el.tokenStatus.hidden = !getToken();
    // history.state survives a reload but the dropped file does not.
    run(readURL(), { image: false });
    resumeRunningJob();
  }

  start();
})();
