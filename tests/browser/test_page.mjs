// Browser test of the capsearch search page, in Debian's Chromium.
//
//   CAPSEARCH_URL=http://127.0.0.1:8765/ node test_page.mjs
//
// Environment:
//   CAPSEARCH_URL          the running server (required)
//   CAPSEARCH_QUERY        a word that finds at least one photo (default "kite")
//   CAPSEARCH_SCREENSHOT   where to save the screenshot (default browser-test.png)
//   CAPSEARCH_TOKEN        the server's access token, if it has one: the test
//                          then also checks that the page asks for it
//   CAPSEARCH_INDEX_DIR    optional: index this folder from the page's panel
//   CAPSEARCH_SCREENSHOTS_ALL=1  also save -dark, -detail, -360 and -360-detail
//                          variants next to the screenshot
//   CAPSEARCH_TIMEOUT_MS   per-wait timeout (default 20000)
//
// Exits 0 when every check passed, 1 with a message naming the failed check.
import { chromium } from 'playwright-core';

const BASE = process.env.CAPSEARCH_URL;
const QUERY = process.env.CAPSEARCH_QUERY || 'kite';
const SHOT = process.env.CAPSEARCH_SCREENSHOT || 'browser-test.png';
const TOKEN = process.env.CAPSEARCH_TOKEN || '';
const INDEX_DIR = process.env.CAPSEARCH_INDEX_DIR || '';
const ALL_SHOTS = process.env.CAPSEARCH_SCREENSHOTS_ALL === '1';
const TIMEOUT = Number(process.env.CAPSEARCH_TIMEOUT_MS || 20000);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
// Same map as the page: file extension -> the API's `type` value.
const EXT_TYPES = {
  jpg: 'jpeg', jpeg: 'jpeg', jpe: 'jpeg', png: 'png', gif: 'gif', webp: 'webp', heic: 'heif',
  heif: 'heif', avif: 'heif', bmp: 'bmp', tga: 'tga', pnm: 'pnm', pbm: 'pnm', pgm: 'pnm',
  ppm: 'pnm', pam: 'pnm',
};

class CheckFailed extends Error {}

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

function typeOf(path) {
  return EXT_TYPES[String(path).split('.').pop().toLowerCase()] || null;
}

function variant(suffix) {
  return SHOT.replace(/(\.png)?$/i, `-${suffix}.png`);
}

let passed = 0;
const pageErrors = [];      // console errors, uncaught exceptions, failed requests
let allow401 = Boolean(TOKEN);   // until the token is entered, 401s are expected

async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    const why = e instanceof CheckFailed ? e.message : `${e.name}: ${e.message.split('\n')[0]}`;
    throw new CheckFailed(`${name}: ${why}`);
  }
  // Anything the page logged as an error during the step fails it.
  if (pageErrors.length) {
    throw new CheckFailed(`${name}: the page reported errors:\n  ${pageErrors.join('\n  ')}`);
  }
  passed += 1;
  console.log(`ok ${passed} - ${name}`);
}

// ---- helpers that run in the page

async function tileCount(page) {
  return page.locator('#results .tile').count();
}

async function tilePaths(page) {
  return page.$$eval('#results .tile', (tiles) => tiles.map((t) => t.dataset.path));
}

// Waits until the search on screen has finished: tiles, the empty state or an error.
async function waitForResults(page, what) {
  await page.waitForFunction(() => {
    const loading = !document.getElementById('loading').hidden;
    const tiles = document.querySelectorAll('#results .tile').length;
    const error = !document.getElementById('error').hidden;
    const empty = !document.getElementById('empty').hidden;
    return !loading && (tiles > 0 || error || empty);
  }, null, { timeout: TIMEOUT });
  const error = await page.locator('#error').isVisible();
  check(!error, `${what}: the page shows an error: ${await page.locator('#error').textContent()}`);
  const n = await tileCount(page);
  check(n > 0, `${what}: no results (status: "${await page.locator('#status').textContent()}")`);
  return n;
}

// Every thumbnail in view (at least `atLeast` of them) must have decoded.
async function waitForThumbnails(page, atLeast) {
  await page.waitForFunction((n) => {
    const inView = Array.from(document.querySelectorAll('#results .tile img')).filter((img) => {
      const r = img.getBoundingClientRect();
      return r.bottom > 0 && r.top < innerHeight;
    });
    return inView.length >= n && inView.every((img) => img.complete && img.naturalWidth > 0);
  }, atLeast, { timeout: TIMEOUT }).catch(async () => {
    const state = await page.$$eval('#results .tile img', (imgs) => imgs.slice(0, 12)
      .map((i) => `${i.getAttribute('src')} complete=${i.complete} naturalWidth=${i.naturalWidth}`));
    throw new CheckFailed(`thumbnails did not load:\n  ${state.join('\n  ')}`);
  });
}

// Loaded is not yet painted: wait for the images in view to decode and fade in,
// so the screenshot shows them.
async function settleImages(page) {
  await page.evaluate(() => Promise.all(Array.from(document.images).filter((img) => {
    const r = img.getBoundingClientRect();
    return img.complete && r.bottom > 0 && r.top < innerHeight;
  }).map((img) => img.decode().catch(() => {}))));
  await page.waitForTimeout(400);
}

async function openFirstDetail(page) {
  await page.locator('#results .tile').first().click();
  await page.waitForFunction(() => {
    const d = document.getElementById('detail');
    return d.open && (d.classList.contains('ready') || !document.getElementById('detail-error').hidden);
  }, null, { timeout: TIMEOUT });
  const err = page.locator('#detail-error');
  check(!(await err.isVisible()), `the detail view shows an error: ${await err.textContent()}`);
}

async function searchFor(page, query) {
  await page.locator('#q').fill(query);
  await page.locator('#q').press('Enter');
  await page.waitForURL((u) => new URL(u).searchParams.get('q') === query, { timeout: TIMEOUT });
  return waitForResults(page, `search for "${query}"`);
}

// ---- the test

async function main() {
  check(BASE, 'set CAPSEARCH_URL to the running server, e.g. http://127.0.0.1:8765/');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, timeout: 60000,
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      if (allow401 && /\b401\b/.test(msg.text())) return;
      pageErrors.push(`console: ${msg.text()} (${msg.location().url || 'page'})`);
    });
    page.on('pageerror', (e) => pageErrors.push(`uncaught: ${e.message}`));
    page.on('requestfailed', (r) => {
      // Aborted requests are normal: lazy images the user scrolled past,
      // a search replaced by a newer one, a closed detail view.
      if (/ERR_ABORTED|cancel/i.test(r.failure()?.errorText || '')) return;
      pageErrors.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`);
    });
    const apiCalls = [];      // URLs of the API requests the page made
    page.on('request', (r) => { if (r.url().includes('/api/')) apiCalls.push(r.url()); });
    const authHeaders = TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {};

    await step('the page and its files are served', async () => {
      const res = await page.goto(BASE, { waitUntil: 'load' });
      check(res && res.ok(), `GET ${BASE} answered ${res && res.status()}`);
      check((await page.title()).includes('capsearch'), `unexpected title "${await page.title()}"`);
      for (const path of ['/app.js', '/style.css', '/favicon.svg', '/openapi.yaml']) {
        const r = await page.request.get(new URL(path, BASE).href);
        check(r.ok(), `GET ${path} answered ${r.status()}`);
      }
      const yaml = await (await page.request.get(new URL('/openapi.yaml', BASE).href)).text();
      check(/^openapi: 3\.0/m.test(yaml), '/openapi.yaml is not an OpenAPI 3.0 document');
      check(await page.locator('#q').isVisible(), 'the search box is not visible');
    });

    if (TOKEN) {
      await step('asks for the access token on 401 and uses it', async () => {
        await page.locator('#token-form').waitFor({ state: 'visible' });
        await page.locator('#token').fill(TOKEN);
        await page.locator('#token-form button[type=submit]').click();
        await page.locator('#token-form').waitFor({ state: 'hidden' });
        const stored = await page.evaluate(() => localStorage.getItem('capsearch.token'));
        check(stored === TOKEN, 'the token was not kept in localStorage');
        await page.waitForTimeout(300);     // let the requests made before the token settle
      });
      allow401 = false;
    }

    let firstId = null;
    await step(`search for "${QUERY}" shows thumbnails, count and time`, async () => {
      const n = await searchFor(page, QUERY);
      await waitForThumbnails(page, Math.min(n, 4));
      const status = await page.locator('#status').textContent();
      check(/\d+\+? photos? for/.test(status) && /ms/.test(status),
        `the status does not give the count and took_ms: "${status}"`);
      const alt = await page.locator('#results .tile img').first().getAttribute('alt');
      check(alt && alt.trim(), 'the first thumbnail has no alt text');
      check(await page.locator('#results .tile img').first().getAttribute('loading') === 'lazy',
        'thumbnails are not lazy-loaded');
      firstId = await page.locator('#results .tile').first().getAttribute('data-id');
    });

    await step('hover shows the caption and score', async () => {
      await page.locator('#results .tile').first().hover();
      await page.waitForFunction(() => {
        const info = document.querySelector('#results .tile .tile-info');
        return Number(getComputedStyle(info).opacity) > 0.9;
      });
      const text = await page.locator('#results .tile .tile-score').first().textContent();
      check(/score/.test(text), `the hover text has no score: "${text}"`);
      await page.mouse.move(0, 0);
    });

    await step('arrow keys move between results and Enter opens the detail view', async () => {
      const n = await tileCount(page);
      await page.locator('#results .tile').first().focus();
      if (n > 1) {
        await page.keyboard.press('ArrowRight');
        const id = await page.evaluate(() => document.activeElement.dataset.id);
        const second = await page.locator('#results .tile').nth(1).getAttribute('data-id');
        check(id === second, 'ArrowRight did not move focus to the second result');
        await page.keyboard.press('ArrowLeft');
      }
      const id = await page.evaluate(() => document.activeElement.dataset.id);
      check(id === firstId, 'focus is not on the first result');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.getElementById('detail').open);
    });

    await step('the detail view shows the large image, caption, facts and tags', async () => {
      await page.waitForFunction(() => {
        const d = document.getElementById('detail');
        return d.classList.contains('ready') || !document.getElementById('detail-error').hidden;
      });
      const err = page.locator('#detail-error');
      check(!(await err.isVisible()), `the detail view shows an error: ${await err.textContent()}`);
      await page.waitForFunction(() => {
        const img = document.getElementById('detail-img');
        return img.complete && img.naturalWidth > 0;
      }).catch(() => { throw new CheckFailed('the large image did not load'); });
      const src = await page.locator('#detail-img').getAttribute('src');
      check(src.includes(`/api/images/${firstId}/thumb`) && src.includes('size=1024'),
        `the large image is not the 1024 px thumbnail: ${src}`);
      const facts = await page.locator('#detail-facts dt').allTextContents();
      for (const f of ['Dimensions', 'File size', 'Format', 'Folder']) {
        check(facts.includes(f), `the facts lack "${f}" (have: ${facts.join(', ')})`);
      }
      const href = await page.locator('#detail-original').getAttribute('href');
      check(href.includes(`/api/images/${firstId}/file`), `the original link is ${href}`);
      const original = await page.request.get(new URL(href, BASE).href, { headers: authHeaders });
      check(original.ok(), `the original file answered ${original.status()}`);
      check(await page.locator('#detail-title').textContent() !== 'Loading…', 'the title never loaded');
      if (ALL_SHOTS) {
        await settleImages(page);
        await page.screenshot({ path: variant('detail') });
      }
    });

    let similarPaths = [];
    await step('"More like this" shows similar photos', async () => {
      await page.locator('#detail-similar').click();
      await page.waitForURL((u) => new URL(u).searchParams.get('similar') === firstId);
      check(!(await page.evaluate(() => document.getElementById('detail').open)), 'the detail view stayed open');
      const n = await waitForResults(page, 'more like this');
      await waitForThumbnails(page, Math.min(n, 4));
      check(await page.locator('#similar-banner').isVisible(), 'no banner says what the results are similar to');
      similarPaths = await tilePaths(page);
      // ArrowDown moves one row down: as many tiles as there are columns.
      const cols = await page.evaluate(() => getComputedStyle(document.getElementById('results'))
        .gridTemplateColumns.split(' ').length);
      if (n > cols) {
        await page.locator('#results .tile').first().focus();
        await page.keyboard.press('ArrowDown');
        const index = await page.evaluate(() => Array.from(document.querySelectorAll('#results .tile'))
          .indexOf(document.activeElement));
        check(index === cols, `ArrowDown went to result ${index + 1}, not ${cols + 1} (${cols} columns)`);
        await page.keyboard.press('ArrowUp');
        await page.evaluate(() => window.scrollTo(0, 0));
      }
    });

    await step('scrolling to the end loads the next page', async () => {
      // With a tall window the next page may already have been fetched (the
      // sentinel starts 800 px early); otherwise scroll to the end.
      const pages = () => apiCalls.filter((u) => u.includes(`/images/${firstId}/similar`));
      const hasMore = await page.locator('#results').getAttribute('data-has-more');
      if (hasMore === 'true') {
        const before = await tileCount(page);
        await page.locator('#sentinel').scrollIntoViewIfNeeded();
        await page.waitForFunction((n) => document.querySelectorAll('#results .tile').length > n, before)
          .catch(() => { throw new CheckFailed(`still ${before} results after scrolling to the end`); });
        await page.waitForFunction(() => document.getElementById('loading').hidden);
      }
      const later = pages().filter((u) => Number(new URL(u).searchParams.get('offset')) > 0);
      if (!later.length) {
        console.log('#   (the similar photos fit on one page: nothing more to load)');
      }
      const paths = await tilePaths(page);
      check(new Set(paths).size === paths.length, 'the next page repeated results');
      similarPaths = paths;
      await page.evaluate(() => window.scrollTo(0, 0));
    });

    await step('a type filter goes into the URL and filters the results', async () => {
      // Choose a type that some results have, preferring one that not all have,
      // so the list visibly changes.
      const counts = {};
      for (const p of similarPaths) if (typeOf(p)) counts[typeOf(p)] = (counts[typeOf(p)] || 0) + 1;
      const types = Object.keys(counts).sort((a, b) => counts[b] - counts[a]);
      check(types.length, 'no result has a known file extension to filter on');
      const mixed = types.find((t) => counts[t] < similarPaths.length);
      const chosen = mixed || types[0];
      const answered = page.waitForResponse((r) => r.url().includes('/api/') &&
        r.url().includes(`type=${chosen}`));
      await page.locator('#type').selectOption(chosen);
      const response = await answered;
      check(response.ok(), `the filtered search answered ${response.status()}`);
      await page.waitForURL((u) => new URL(u).searchParams.get('type') === chosen);
      check(new URL(page.url()).searchParams.get('similar') === firstId, 'the filter dropped the similar search');
      await waitForResults(page, `type=${chosen}`);
      const paths = await tilePaths(page);
      const wrong = paths.filter((p) => typeOf(p) && typeOf(p) !== chosen);
      check(!wrong.length, `results that are not ${chosen}: ${wrong.slice(0, 3).join(', ')}`);
      if (mixed) check(paths.join() !== similarPaths.join(), 'the results did not change');
    });

    await step('Back undoes the filter', async () => {
      await page.goBack();
      await page.waitForURL((u) => !new URL(u).searchParams.get('type'));
      check(await page.locator('#type').inputValue() === '', 'the type select still shows the filter');
      await waitForResults(page, 'back');
      await waitForThumbnails(page, 2);
    });

    await step('"Has faces" goes into the URL and keeps only pictures with a face', async () => {
      const answered = page.waitForResponse((r) => r.url().includes('/api/') &&
        r.url().includes('has_faces=1'));
      await page.locator('#has_faces').check();
      const response = await answered;
      check(response.ok(), `the filtered search answered ${response.status()}`);
      await page.waitForURL((u) => new URL(u).searchParams.get('has_faces') === '1');
      await page.waitForFunction(() => document.getElementById('loading').hidden &&
        (document.querySelectorAll('#results .tile').length > 0 ||
         !document.getElementById('empty').hidden), null, { timeout: TIMEOUT });
      check(!(await page.locator('#error').isVisible()), 'the page shows an error');
      const ids = await page.$$eval('#results .tile', (tiles) => tiles.map((t) => t.dataset.id));
      for (const id of ids) {
        const info = await page.request.get(new URL(`/api/images/${id}`, BASE).href,
          { headers: TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {} });
        check(info.ok(), `/api/images/${id} answered ${info.status()}`);
        const tags = (await info.json()).tags || [];
        check(tags.some((t) => t.kind === 'face'), `picture ${id} is shown but has no face tag`);
      }
      console.log(`#   ${ids.length} result(s) with faces`);
      await page.goBack();
      await page.waitForURL((u) => !new URL(u).searchParams.get('has_faces'));
      check(!(await page.locator('#has_faces').isChecked()), 'the checkbox is still ticked after Back');
      await waitForResults(page, 'back from has_faces');
    });

    await step('a filter without words lists its photos, newest first', async () => {
      const want = await page.request.get(new URL('/api/search?type=png&k=100', BASE).href,
        { headers: authHeaders });
      check(want.ok(), `the listing answered ${want.status()}`);
      const listed = (await want.json()).results.map((r) => String(r.id));
      check(listed.length > 0, 'the server lists no PNG photos');
      const answered = page.waitForResponse((r) => r.url().includes('/api/search?') &&
        r.url().includes('type=png'));
      // as a bookmark or Back would open it: the URL holds the filter alone
      await page.evaluate(() => {
        history.pushState(null, '', `${location.pathname}?type=png`);
        dispatchEvent(new PopStateEvent('popstate'));
      });
      const response = await answered;
      check(!new URL(response.url()).searchParams.has('q'), 'the page sent words to search for');
      await waitForResults(page, 'type=png alone');
      const ids = await page.$$eval('#results .tile', (tiles) => tiles.map((t) => t.dataset.id));
      check(ids.join() === listed.slice(0, ids.length).join(),
        `the page shows ${ids.join()}, the listing is ${listed.join()}`);
      const status = await page.locator('#status').textContent();
      check(status.includes('newest first'), `the status says "${status}"`);
      await page.goBack();
      await waitForResults(page, 'back from the listing');
    });

    await step('Esc closes the detail view and gives focus back', async () => {
      await openFirstDetail(page);
      await page.keyboard.press('Escape');
      await page.waitForFunction(() => !document.getElementById('detail').open);
      const focused = await page.evaluate(() => document.activeElement.classList.contains('tile'));
      check(focused, 'focus did not return to the result');
    });

    await step('"/" focuses the search box', async () => {
      await page.locator('#results .tile').first().focus();
      await page.keyboard.press('/');
      const id = await page.evaluate(() => document.activeElement.id);
      check(id === 'q', `focus is on "${id}", not the search box`);
      check(!(await page.locator('#q').inputValue()).includes('/'), 'the slash was typed into the box');
    });

    await step('search by image: file picker and drop', async () => {
      const res = await page.request.get(new URL(`/api/images/${firstId}/file`, BASE).href, { headers: authHeaders });
      check(res.ok(), `could not fetch image ${firstId}: ${res.status()}`);
      const buffer = await res.body();
      const mimeType = res.headers()['content-type'] || 'image/jpeg';
      await page.locator('#image-file').setInputFiles({ name: 'picked.jpg', mimeType, buffer });
      await page.waitForFunction(() => document.getElementById('similar-name').textContent === 'picked.jpg');
      await waitForResults(page, 'search by picked image');
      // A drop carries a DataTransfer with the file.
      const data = buffer.toString('base64');
      const dt = await page.evaluateHandle(({ data, mimeType }) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'dropped.jpg', { type: mimeType }));
        return transfer;
      }, { data, mimeType });
      await page.dispatchEvent('main', 'dragenter', { dataTransfer: dt });
      check(await page.locator('#drop-overlay').isVisible(), 'dragging a file shows no drop target');
      await page.dispatchEvent('main', 'drop', { dataTransfer: dt });
      await page.waitForFunction(() => document.getElementById('similar-name').textContent === 'dropped.jpg');
      check(!(await page.locator('#drop-overlay').isVisible()), 'the drop target stayed');
      await waitForResults(page, 'search by dropped image');
      await waitForThumbnails(page, 2);
      await page.goBack();
      await page.goBack();
      await waitForResults(page, 'back to similar');
    });

    if (INDEX_DIR) {
      await step(`indexing ${INDEX_DIR} from the page`, async () => {
        await page.locator('#index-panel summary').click();
        await page.locator('#index-path').fill(INDEX_DIR);
        await page.locator('#index-start').click();
        await page.locator('#job-progress').waitFor({ state: 'visible' });
        await page.waitForFunction(() => /^(Done|Cancelled|Indexing failed)/.test(
          document.getElementById('job-text').textContent), null, { timeout: 10 * 60 * 1000 });
        const text = await page.locator('#job-text').textContent();
        check(text.startsWith('Done'), `indexing ended with "${text}"`);
        await page.locator('#index-panel summary').click();
        await waitForResults(page, 'search after indexing');
      });
    }

    await step('readable at 360 px wide', async () => {
      await page.setViewportSize({ width: 360, height: 760 });
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.waitForTimeout(200);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      check(width <= 360, `the page is ${width} px wide at 360 px: it scrolls sideways`);
      const cols = await page.evaluate(() => getComputedStyle(document.getElementById('results'))
        .gridTemplateColumns.split(' ').length);
      check(cols >= 2, `only ${cols} column(s) of results at 360 px`);
      if (ALL_SHOTS) {
        await waitForThumbnails(page, 2);
        await settleImages(page);
        await page.screenshot({ path: variant('360') });
        await openFirstDetail(page);
        await page.waitForFunction(() => document.getElementById('detail-img').naturalWidth > 0);
        await settleImages(page);
        await page.screenshot({ path: variant('360-detail') });
        await page.keyboard.press('Escape');
        await page.emulateMedia({ colorScheme: 'dark' });
        await page.screenshot({ path: variant('360-dark') });
        await page.emulateMedia({ colorScheme: 'light' });
      }
      await page.setViewportSize({ width: 1280, height: 860 });
    });

    await step(`screenshot saved to ${SHOT}`, async () => {
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.mouse.move(0, 0);
      await waitForThumbnails(page, 1);
      await settleImages(page);
      await page.screenshot({ path: SHOT });
      if (ALL_SHOTS) {
        await page.emulateMedia({ colorScheme: 'dark' });
        await settleImages(page);
        await page.screenshot({ path: variant('dark') });
        await openFirstDetail(page);
        await page.waitForFunction(() => document.getElementById('detail-img').naturalWidth > 0);
        await settleImages(page);
        await page.screenshot({ path: variant('dark-detail') });
        await page.keyboard.press('Escape');
      }
    });
  } finally {
    await browser.close();
  }
}

const watchdog = setTimeout(() => {
  console.error(`FAIL: the test did not finish in 10 minutes (${passed} checks passed)`);
  process.exit(1);
}, 10 * 60 * 1000);

main().then(() => {
  clearTimeout(watchdog);
  console.log(`${passed} passed, 0 failed`);
}).catch((e) => {
  clearTimeout(watchdog);
  console.error(`FAIL: ${e instanceof CheckFailed ? e.message : e.stack || e}`);
  console.log(`${passed} passed, 1 failed`);
  process.exit(1);
});
