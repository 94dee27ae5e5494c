#!/usr/bin/python3
"""A stand-in for `capsearch serve`, for developing and testing the web page.

It serves the files in web/ and a fake implementation of the JSON API (see
web/openapi.yaml) over a folder of real images:

    /usr/bin/python3 tests/browser/mock_server.py --images ~/.cache/capsearch/samples/wallpapers

Nothing is decoded: captions and tags come from file names, image headers
(dimensions) and EXIF (date, camera, GPS); thumbnails are the original bytes;
"similar" ranks by aspect ratio and format. Search, paging, filters, jobs,
errors and the bearer token follow the API contract, so the page cannot tell
it from the real server. Standard library only.
"""
import argparse
import hashlib
import json
import os
import re
import struct
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_WEB = os.path.normpath(os.path.join(HERE, '..', '..', 'web'))

STATIC = {
    '/': ('index.html', 'text/html; charset=utf-8'),
    '/index.html': ('index.html', 'text/html; charset=utf-8'),
    '/app.js': ('app.js', 'text/javascript; charset=utf-8'),
    '/style.css': ('style.css', 'text/css; charset=utf-8'),
    '/favicon.svg': ('favicon.svg', 'image/svg+xml'),
    '/openapi.yaml': ('openapi.yaml', 'application/yaml; charset=utf-8'),
}

EXTENSIONS = {
    'jpg': 'jpeg', 'jpeg': 'jpeg', 'jpe': 'jpeg', 'png': 'png', 'gif': 'gif',
    'webp': 'webp', 'heic': 'heif', 'heif': 'heif', 'avif': 'heif', 'bmp': 'bmp',
    'tga': 'tga', 'pnm': 'pnm', 'pbm': 'pnm', 'pgm': 'pnm', 'ppm': 'pnm', 'pam': 'pnm',
}
MIME = {'jpeg': 'image/jpeg', 'png': 'image/png', 'gif': 'image/gif', 'webp': 'image/webp',
        'heif': 'image/heif', 'bmp': 'image/bmp', 'tga': 'image/x-tga',
        'pnm': 'image/x-portable-anymap'}
SEASONS = ['winter', 'winter', 'spring', 'spring', 'spring', 'summer', 'summer', 'summer',
           'autumn', 'autumn', 'autumn', 'winter']


class ApiError(Exception):
    def __init__(self, status, code, message, headers=()):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


# ---------------------------------------------------------------- image facts

def sniff(data):
    """Format name from the first bytes, or None."""
    if data[:3] == b'\xff\xd8\xff':
        return 'jpeg'
    if data[:8] == b'\x89PNG\r\n\x1a\n':
        return 'png'
    if data[:6] in (b'GIF87a', b'GIF89a'):
        return 'gif'
    if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
        return 'webp'
    if data[4:8] == b'ftyp' and data[8:12] in (b'heic', b'heix', b'mif1', b'avif', b'msf1'):
        return 'heif'
    if data[:2] == b'BM':
        return 'bmp'
    if len(data) > 2 and data[:1] == b'P' and data[1:2] in b'123456':
        return 'pnm'
    return None


def dimensions(data, fmt):
    """(width, height) from the header, or (0, 0)."""
    try:
        if fmt == 'png':
            return struct.unpack('>II', data[16:24])
        if fmt == 'gif':
            return struct.unpack('<HH', data[6:10])
        if fmt == 'bmp':
            w, h = struct.unpack('<ii', data[18:26])
            return w, abs(h)
        if fmt == 'webp':
            chunk = data[12:16]
            if chunk == b'VP8X':
                w = int.from_bytes(data[24:27], 'little') + 1
                h = int.from_bytes(data[27:30], 'little') + 1
                return w, h
            if chunk == b'VP8L':
                bits = int.from_bytes(data[21:25], 'little')
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            w, h = struct.unpack('<HH', data[26:30])
            return w & 0x3FFF, h & 0x3FFF
        if fmt == 'pnm':
            fields = re.sub(rb'#[^\n]*', b' ', data[:512]).split()
            return int(fields[1]), int(fields[2])
        if fmt == 'jpeg':
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker = data[i + 1]
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                    i += 1 if marker == 0xFF else 2
                    continue
                length = struct.unpack('>H', data[i + 2:i + 4])[0]
                if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB,
                              0xCD, 0xCE, 0xCF):
                    h, w = struct.unpack('>HH', data[i + 5:i + 9])
                    return w, h
                i += 2 + length
    except (struct.error, ValueError, IndexError):
        pass
    return 0, 0


def exif_facts(data):
    """Date, camera and GPS from a JPEG's EXIF block (a small TIFF reader)."""
    facts = {'taken_at': None, 'camera_make': '', 'camera_model': '', 'gps': None,
             'orientation': 1}
    start = data.find(b'Exif\x00\x00', 0, 65536)
    if start < 0:
        return facts
    tiff = data[start + 6:start + 6 + 65536]
    try:
        endian = '<' if tiff[:2] == b'II' else '>'

        def ifd(offset):
            entries = {}
            count = struct.unpack(endian + 'H', tiff[offset:offset + 2])[0]
            for n in range(count):
                e = offset + 2 + 12 * n
                tag, typ, cnt = struct.unpack(endian + 'HHI', tiff[e:e + 8])
                size = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}.get(typ, 1) * cnt
                raw = tiff[e + 8:e + 12] if size <= 4 else \
                    tiff[struct.unpack(endian + 'I', tiff[e + 8:e + 12])[0]:][:size]
                if typ == 2:
                    entries[tag] = raw.split(b'\x00')[0].decode('latin-1').strip()
                elif typ == 3:
                    entries[tag] = struct.unpack(endian + 'H', raw[:2])[0]
                elif typ == 4:
                    entries[tag] = struct.unpack(endian + 'I', raw[:4])[0]
                elif typ == 5:
                    nums = struct.unpack(endian + 'I' * (2 * cnt), raw[:8 * cnt])
                    entries[tag] = [a / b if b else 0.0 for a, b in zip(nums[::2], nums[1::2])]
                else:
                    entries[tag] = raw
            return entries

        ifd0 = ifd(struct.unpack(endian + 'I', tiff[4:8])[0])
        facts['camera_make'] = ifd0.get(0x010F, '') if isinstance(ifd0.get(0x010F), str) else ''
        facts['camera_model'] = ifd0.get(0x0110, '') if isinstance(ifd0.get(0x0110), str) else ''
        facts['orientation'] = ifd0.get(0x0112, 1)
        stamp = ifd0.get(0x0132)
        if 0x8769 in ifd0:
            sub = ifd(ifd0[0x8769])
            stamp = sub.get(0x9003) or sub.get(0x9004) or stamp
        if isinstance(stamp, str):
            try:
                facts['taken_at'] = datetime.strptime(stamp[:19], '%Y:%m:%d %H:%M:%S') \
                    .strftime('%Y-%m-%dT%H:%M:%S')
            except ValueError:
                pass
        if 0x8825 in ifd0:
            gps = ifd(ifd0[0x8825])
            if 2 in gps and 4 in gps:
                def degrees(v):
                    return v[0] + v[1] / 60 + v[2] / 3600
                lat, lon = degrees(gps[2]), degrees(gps[4])
                if gps.get(1) == 'S':
                    lat = -lat
                if gps.get(3) == 'W':
                    lon = -lon
                facts['gps'] = {'lat': round(lat, 6), 'lon': round(lon, 6)}
    except (struct.error, IndexError, ValueError, TypeError):
        pass
    return facts


def path_words(path):
    """'BytheWater.jpg' -> ['by', 'the', 'water'], like the real indexer (roughly)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    parts = [os.path.basename(os.path.dirname(path)), stem]
    words = []
    for part in parts:
        part = re.sub(r'([a-z])([A-Z])', r'\1 \2', part)
        for word in re.split(r'[^A-Za-z0-9]+', part):
            if word and not re.fullmatch(r'(img|dsc|dscn)?\d+', word.lower()):
                words.append(word.lower())
    return words


def describe(path, ident):
    """Everything the fake catalog keeps about one file, or None if not an image."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
        st = os.stat(path)
    except OSError:
        return None
    fmt = sniff(data) or EXTENSIONS.get(path.rsplit('.', 1)[-1].lower())
    if fmt is None:
        return None
    width, height = dimensions(data, fmt)
    facts = exif_facts(data) if fmt == 'jpeg' else exif_facts(b'')
    if facts['orientation'] in (5, 6, 7, 8):
        width, height = height, width
    ratio = width / height if height else 1.0
    shape = 'panorama' if ratio > 2.2 else 'landscape' if ratio > 1.1 else \
        'portrait' if ratio < 0.9 else 'square'
    words = path_words(path)
    tags = [{'tag': shape, 'kind': 'shape', 'score': 1.0},
            {'tag': fmt, 'kind': 'format', 'score': 1.0}]
    tags += [{'tag': w, 'kind': 'path', 'score': 0.8} for w in words]
    caption = f'A {shape} photo'
    if facts['taken_at']:
        when = datetime.strptime(facts['taken_at'], '%Y-%m-%dT%H:%M:%S')
        caption += f', taken in {when:%B %Y}'
        tags += [{'tag': str(when.year), 'kind': 'date', 'score': 1.0},
                 {'tag': when.strftime('%B').lower(), 'kind': 'date', 'score': 1.0},
                 {'tag': SEASONS[when.month - 1], 'kind': 'date', 'score': 0.9}]
    make, model = facts['camera_make'], facts['camera_model']
    if make and model.lower().startswith(make.split()[0].lower()):
        make = ''                       # "Canon" + "Canon EOS 70D"
    camera = ' '.join(x for x in (make, model) if x)
    if camera:
        caption += f', shot with {camera}'
        tags += [{'tag': w.lower(), 'kind': 'camera', 'score': 1.0} for w in camera.split()]
    caption += f' ({" ".join(words)}).' if words else '.'
    return {
        'id': ident, 'path': path, 'folder': os.path.dirname(path), 'size': st.st_size,
        'mtime': int(st.st_mtime), 'content_hash': hashlib.sha256(data).hexdigest()[:32],
        'width': width, 'height': height, 'format': fmt, 'taken_at': facts['taken_at'],
        'camera_make': facts['camera_make'], 'camera_model': facts['camera_model'],
        'gps': facts['gps'], 'caption': caption, 'tags': tags,
        'path_words': ' '.join(words), 'exif_text': camera,
        'phash': None,   # no pixels decoded here
        'thumbnail': f'/api/images/{ident}/thumb?size=256', 'file': f'/api/images/{ident}/file',
    }


def is_image_name(name):
    return not name.startswith('.') and name.rsplit('.', 1)[-1].lower() in EXTENSIONS


# ---------------------------------------------------------------- the fake library

class Library:
    def __init__(self):
        self.lock = threading.Lock()
        self.images = {}          # id -> describe() dict
        self.by_path = {}         # path -> id
        self.next_id = 1
        self.generation = 0
        self.errors = 0
        self.jobs = {}
        self.next_job = 1

    def add(self, path):
        """Adds or refreshes `path`; returns 'indexed', 'unchanged' or 'failed'."""
        st = os.stat(path)
        with self.lock:
            old = self.by_path.get(path)
            if old and self.images[old]['size'] == st.st_size and \
                    self.images[old]['mtime'] == int(st.st_mtime):
                return 'unchanged'
            ident = old or self.next_id
        info = describe(path, ident)
        with self.lock:
            if info is None:
                self.errors += 1
                return 'failed'
            if not old:
                self.next_id += 1
            self.images[ident] = info
            self.by_path[path] = ident
            self.generation += 1
        return 'indexed'

    def remove_missing(self, folder):
        with self.lock:
            gone = [i for p, i in self.by_path.items()
                    if (p.startswith(folder + os.sep)) and not os.path.exists(p)]
            for ident in gone:
                del self.by_path[self.images.pop(ident)['path']]
            if gone:
                self.generation += 1
            return len(gone)

    def snapshot(self):
        with self.lock:
            return sorted(self.images.values(), key=lambda i: i['id'])

    def get(self, ident):
        with self.lock:
            info = self.images.get(ident)
        if info is None:
            raise ApiError(404, 'not_found', f'no image with id {ident}')
        return info


def walk(folder):
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        for name in sorted(files):
            if is_image_name(name):
                yield os.path.join(root, name)


def run_job(lib, job, cancel, delay):
    """The fake indexer: walks the folder and 'indexes' one file per `delay` seconds."""
    files = list(walk(job['path']))
    job.update(state='running', total=len(files))
    started = time.monotonic()
    for path in files:
        if cancel.is_set():
            job['state'] = 'cancelled'
            return
        time.sleep(delay)
        try:
            outcome = lib.add(path)
        except OSError:
            outcome = 'failed'
        job[outcome] += 1
        job['done'] += 1
        elapsed = max(time.monotonic() - started, 1e-6)
        job['elapsed_s'] = round(elapsed, 3)
        job['files_per_s'] = round(job['done'] / elapsed, 2)
        job['eta_s'] = round((job['total'] - job['done']) / job['files_per_s'], 1)
    job['removed'] = lib.remove_missing(job['path'])
    job.update(state='done', eta_s=0)


# ---------------------------------------------------------------- search

def int_param(params, name, default, low, high):
    raw = params.get(name)
    if raw is None or raw == '':
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, 'bad_request', f'{name} must be an integer')
    if not low <= value <= high:
        raise ApiError(400, 'bad_request', f'{name} must be between {low} and {high}')
    return value


def date_param(params, name):
    raw = params.get(name)
    if not raw:
        return None
    if not re.fullmatch(r'\d{4}-\d{2}-\d{2}', raw):
        raise ApiError(400, 'bad_request', f'{name} must be a date like 2019-07-31')
    return raw


def filter_images(images, params):
    """The search filters: folder (this folder or below), from/to (taken_at), type."""
    folder = (params.get('folder') or '').rstrip('/')
    since, until = date_param(params, 'from'), date_param(params, 'to')
    kind = params.get('type') or ''
    out = []
    for info in images:
        if folder and not (info['folder'] == folder or info['folder'].startswith(folder + '/')):
            continue
        day = (info['taken_at'] or '')[:10]
        if (since or until) and not day:
            continue
        if (since and day < since) or (until and day > until):
            continue
        if kind and info['format'] != kind:
            continue
        out.append(info)
    return out


def matches(token, words):
    # Crude stemming: "boats" finds "boat", "kit" does not find "kite".
    return any(w == token or (len(w) >= 4 and token.startswith(w) and len(token) - len(w) <= 2)
               or (len(token) >= 4 and w.startswith(token) and len(w) - len(token) <= 2)
               or token.endswith('*') and w.startswith(token[:-1])
               for w in words)


def result(info, score, explain_rank=None):
    r = {'id': info['id'], 'path': info['path'], 'score': round(score, 6),
         'caption': info['caption'], 'tags': ' '.join(t['tag'] for t in info['tags']),
         'width': info['width'], 'height': info['height'], 'taken_at': info['taken_at'],
         'thumbnail': info['thumbnail'], 'file': info['file']}
    if explain_rank is not None:
        r['explain'] = {'text': {'rank': explain_rank, 'score': round(-10.0 / explain_rank, 4)}}
    return r


def page(query, ranked, params, started, fts_query=None):
    k = int_param(params, 'k', 20, 1, 1000)
    offset = int_param(params, 'offset', 0, 0, 100000)
    explain = params.get('explain') in ('1', 'true', 'yes')
    chosen = ranked[offset:offset + k]
    doc = {'query': query, 'took_ms': round((time.monotonic() - started) * 1000, 3),
           'candidates': len(ranked),
           'results': [result(info, 1.0 / (60 + offset + n + 1),
                              offset + n + 1 if explain else None)
                       for n, info in enumerate(chosen)]}
    if explain and fts_query is not None:
        doc['fts_query'] = fts_query
    return doc


def text_search(lib, params):
    started = time.monotonic()
    query = params.get('q', '')
    tokens = [t for t in re.findall(r'[\w*]+', query.lower()) if t != '*']
    images = filter_images(lib.snapshot(), params)
    if tokens:
        ranked = []
        for info in images:
            words = set(re.findall(r'\w+', (info['caption'] + ' ' + info['path_words'] + ' ' +
                                            ' '.join(t['tag'] for t in info['tags'])).lower()))
            if all(matches(t, words) for t in tokens):
                ranked.append(info)
    else:
        ranked = []
    return page(query, ranked, params, started, ' '.join(f'"{t}"' for t in tokens))


def look_alike(images, ratio, fmt, exclude=None):
    """'Similar' without pixels: nearest aspect ratio, same format first."""
    def distance(info):
        r = info['width'] / info['height'] if info['height'] else 1.0
        return (abs(r - ratio) + (0 if info['format'] == fmt else 0.05), info['id'])
    return sorted((i for i in images if i['id'] != exclude), key=distance)


def similar_search(lib, ident, params):
    started = time.monotonic()
    base = lib.get(ident)
    ratio = base['width'] / base['height'] if base['height'] else 1.0
    images = filter_images(lib.snapshot(), params)   # the same filters as text search
    return page('', look_alike(images, ratio, base['format'], ident), params, started)


def image_search(lib, body, params):
    started = time.monotonic()
    if not body:
        raise ApiError(400, 'bad_request', 'send the image file as the request body')
    fmt = sniff(body)
    if fmt is None:
        raise ApiError(415, 'unsupported_media', 'not an image format capsearch can read')
    width, height = dimensions(body, fmt)
    if not width or not height:
        raise ApiError(415, 'unsupported_media', 'the image header is damaged')
    # The same file, if it is in the library, comes first (as with real embeddings).
    digest = hashlib.sha256(body).hexdigest()[:32]
    images = filter_images(lib.snapshot(), params)
    same = [i for i in images if i['content_hash'] == digest]
    rest = look_alike(images, width / height, fmt, same[0]['id'] if same else None)
    return page('', same[:1] + rest, params, started)


# ---------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'capsearch-mock/1'

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            sys.stderr.write('%s %s\n' % (self.address_string(), fmt % args))

    # -- plumbing

    def send(self, status, body, content_type='application/json', headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        try:
            self.send_response(status)
            self.send_header('Content-Type', content_type)
            self.send_header('Content-Length', str(len(body)))
            self.send_header('Cache-Control', 'no-store' if content_type.startswith(
                ('application/json', 'text/')) else 'private, max-age=300')
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            if self.command != 'HEAD':
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the browser gave up on a lazy image: nothing to do

    def error(self, status, code, message, headers=()):
        self.send(status, {'error': {'code': code, 'message': message}}, headers=headers)

    def body(self):
        length = int(self.headers.get('Content-Length') or 0)
        if length > 32 * 1024 * 1024:
            raise ApiError(413, 'too_large', 'the request body is larger than 32 MiB')
        return self.rfile.read(length) if length else b''

    def authorised(self, params):
        token = self.server.token
        if not token:
            return True
        header = self.headers.get('Authorization', '')
        return header == f'Bearer {token}' or params.get('token') == token

    def do_GET(self):
        self.dispatch('GET')

    def do_HEAD(self):
        self.dispatch('GET')

    def do_POST(self):
        self.dispatch('POST')

    def do_DELETE(self):
        self.dispatch('DELETE')

    def do_PUT(self):
        self.dispatch('PUT')

    def dispatch(self, method):
        url = urlsplit(self.path)
        try:
            raw = parse_qs(url.query, keep_blank_values=True, strict_parsing=False,
                           errors='strict')
        except UnicodeDecodeError:
            return self.error(400, 'bad_request', 'the query string is not valid UTF-8')
        params = {k: v[-1] for k, v in raw.items()}
        body = b''
        try:
            if method in ('POST', 'PUT'):
                body = self.body()
            if self.server.delay:
                time.sleep(self.server.delay)
            if url.path in STATIC:
                if method != 'GET':
                    raise ApiError(405, 'method_not_allowed', f'{method} is not allowed here',
                               [('Allow', 'GET, HEAD')])
                return self.static(url.path)
            if url.path == '/healthz':
                return self.send(200, {'status': 'ok'})
            if not self.authorised(params):
                raise ApiError(401, 'unauthorized',
                               'this server needs its access token: Authorization: Bearer TOKEN',
                               [('WWW-Authenticate', 'Bearer')])
            self.route(method, url.path, params, body)
        except ApiError as e:
            self.error(e.status, e.code, e.message, e.headers)
        except Exception as e:  # a bug in the mock: still answer in the API's shape
            self.error(500, 'internal_error', f'{type(e).__name__}: {e}')

    def static(self, path):
        name, ctype = STATIC[path]
        try:
            with open(os.path.join(self.server.web, name), 'rb') as f:
                data = f.read()
        except OSError:
            raise ApiError(404, 'not_found', f'{path} is not there')
        self.send(200, data, ctype)

    def route(self, method, path, params, body):
        lib = self.server.lib
        m = re.fullmatch(r'/api/images/(\d+)(/similar|/thumb|/file)?', path)
        j = re.fullmatch(r'/api/jobs/(\d+)', path)
        routes = {
            ('GET', '/api/search'): lambda: self.send(200, text_search(lib, params)),
            ('POST', '/api/search/image'): lambda: self.send(200, image_search(lib, body, params)),
            ('POST', '/api/index'): lambda: self.start_job(body),
            ('GET', '/api/jobs'): lambda: self.send(
                200, {'jobs': [dict(x) for x, _ in lib.jobs.values()]}),
            ('GET', '/api/stats'): lambda: self.send(200, self.stats()),
            ('GET', '/metrics'): lambda: self.send(200, self.metrics(),
                                                   'text/plain; version=0.0.4'),
        }
        if (method, path) in routes:
            return routes[(method, path)]()
        if any(p == path for _, p in routes) or m or j:
            if m:
                allowed = {'GET'}
            elif j:
                allowed = {'GET', 'DELETE'}
            else:
                allowed = {mm for mm, p in routes if p == path}
            if method not in allowed:
                raise ApiError(405, 'method_not_allowed', f'{method} is not allowed on {path}',
                               [('Allow', ', '.join(sorted(allowed)))])
        if m:
            ident, what = int(m.group(1)), m.group(2)
            if what == '/similar':
                return self.send(200, similar_search(lib, ident, params))
            info = lib.get(ident)
            if what is None:
                return self.send(200, info)
            int_param(params, 'size', 256, 16, 1024)
            try:
                with open(info['path'], 'rb') as f:
                    data = f.read()
            except OSError:
                raise ApiError(404, 'not_found', f'{info["path"]} can no longer be read')
            return self.send(200, data, MIME[info['format']])
        if j:
            entry = lib.jobs.get(int(j.group(1)))
            if entry is None:
                raise ApiError(404, 'not_found', f'no job {j.group(1)}')
            job, cancel = entry
            if method == 'DELETE':
                cancel.set()
                if job['state'] == 'queued':
                    job['state'] = 'cancelled'
                return self.send(202, {'job': dict(job)})
            return self.send(200, {'job': dict(job)})
        raise ApiError(404, 'not_found', f'no route for {path}')

    def start_job(self, body):
        try:
            request = json.loads(body or b'null')
        except ValueError:
            raise ApiError(400, 'bad_request', 'the body must be JSON like {"path": "/folder"}')
        folder = request.get('path') if isinstance(request, dict) else None
        if not isinstance(folder, str) or not folder:
            raise ApiError(400, 'bad_request', 'the body must be JSON like {"path": "/folder"}')
        if not os.path.isabs(folder):
            raise ApiError(400, 'bad_request', f'{folder} is not an absolute path')
        if not os.path.isdir(folder):
            raise ApiError(404, 'not_found', f'{folder} is not a folder')
        lib = self.server.lib
        with lib.lock:
            ident = lib.next_job
            lib.next_job += 1
        job = {'id': ident, 'path': os.path.normpath(folder), 'state': 'queued', 'total': 0,
               'done': 0, 'indexed': 0, 'reused': 0, 'failed': 0, 'unchanged': 0,
               'removed': 0, 'elapsed_s': 0.0, 'files_per_s': 0.0, 'eta_s': 0.0, 'error': None}
        cancel = threading.Event()
        lib.jobs[ident] = (job, cancel)
        threading.Thread(target=run_job, args=(lib, job, cancel, self.server.index_delay),
                         daemon=True).start()
        self.send(202, {'job': dict(job)})

    def stats(self):
        lib = self.server.lib
        images = lib.snapshot()
        return {'images': len(images), 'vectors': len(images), 'embeddings': len(images),
                'errors': lib.errors, 'generation': lib.generation,
                'catalog_bytes': 4096 * (1 + len(images)), 'vector_bytes': 768 * len(images),
                'image_bytes': sum(i['size'] for i in images),
                'embedding_model': 'mock-layout-192', 'schema_version': 2,
                'jobs': {'queued': sum(j['state'] == 'queued' for j, _ in lib.jobs.values()),
                         'running': sum(j['state'] == 'running' for j, _ in lib.jobs.values())},
                'watched_folders': 0}

    def metrics(self):
        s = self.stats()
        return ''.join(f'# TYPE capsearch_{k} gauge\ncapsearch_{k} {v}\n'
                       for k, v in s.items() if isinstance(v, int))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--images', action='append', default=[], metavar='DIR',
                    help='folder of images to serve (repeatable)')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=0, help='0 picks a free port')
    ap.add_argument('--web', default=DEFAULT_WEB, help='folder holding index.html etc.')
    ap.add_argument('--token', default='', help='require this bearer token')
    ap.add_argument('--delay', type=float, default=0.0,
                    help='seconds to wait before answering each request')
    ap.add_argument('--index-delay', type=float, default=0.15,
                    help='seconds the fake indexer spends on each file')
    ap.add_argument('--quiet', action='store_true', help='no request log')
    args = ap.parse_args()

    lib = Library()
    for folder in args.images:
        folder = os.path.abspath(os.path.expanduser(folder))
        if not os.path.isdir(folder):
            ap.error(f'{folder} is not a folder')
        for path in walk(folder):
            lib.add(path)

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.lib, server.web, server.token = lib, args.web, args.token
    server.delay, server.index_delay, server.quiet = args.delay, args.index_delay, args.quiet
    host, port = server.server_address[:2]
    # The first line on stdout is the URL, so scripts can start us on port 0.
    print(f'http://{host}:{port}/', flush=True)
    print(f'{len(lib.images)} images; web files from {args.web}', file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
