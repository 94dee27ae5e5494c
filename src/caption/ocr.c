/* The text test (pure C, any build) and Tesseract through its C API. */
#include "caption/ocr.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---------- the cheap text test ---------- */

/* Bigger test images are reduced first (a 10:1 panorama at 128 px, or a
 * 16:9 picture at the closer look's 512 px): the test's time is linear in
 * pixels, ~1 ms per 50 000. */
#define GUESS_MAX_PIXELS 400000
/* A pixel is ink when it is this much darker (or lighter) than the mean of
 * its neighbourhood: text is drawn to be read, so it has contrast. Lines of
 * small print seen from afar blur, hence a lower bar for them. */
#define INK_CONTRAST 16
#define LINE_CONTRAST 10
#define MIN_LETTER_PX 5
#define MAX_BLOBS 8192
/* A row of letters: the share of its band's ink that is its letters (text
 * stands on clean ground; texture is ink everywhere), and how much the
 * letters' stroke widths may differ (one font, one weight). */
#define ROW_PURITY 0.7
#define STROKE_SPREAD 2.5
/* The short side of the closer look at small print. */
#define CLOSER_LOOK_SIDE 512

typedef struct blob {
    int x0, y0, x1, y1;      /* inclusive */
    int area, perimeter;
    uint8_t polarity;        /* 1 dark on light, 2 light on dark */
    bool thin;               /* I, l, 1: a bar */
    bool overlaps;           /* its box overlaps another's much: texture */
    float stroke;            /* mean stroke width, pixels */
    int32_t label;
    int row;                 /* union-find parent */
} blob;

typedef struct guess_work {
    int w, h;
    uint8_t *grey;
    uint32_t *integral;      /* (w + 1) x (h + 1) */
    uint8_t *mask;           /* 0, 1 dark, 2 light; | 4 once labelled */
    int32_t *label;          /* component id of each labelled pixel */
    int32_t next_label;
    uint32_t *stack;
    blob *blobs;
    size_t nblobs;
} guess_work;

static int max_i(int a, int b) { return a > b ? a : b; }
static int min_i(int a, int b) { return a < b ? a : b; }

static void guess_work_free(guess_work *g)
{
    free(g->grey);
    free(g->integral);
    free(g->mask);
    free(g->label);
    free(g->stack);
    free(g->blobs);
}

static void make_grey(const cs_image *img, guess_work *g)
{
    size_t n = (size_t)g->w * (size_t)g->h;
    const uint8_t *p = img->pixels;
    for (size_t i = 0; i < n; i++, p += 3)
        g->grey[i] = (uint8_t)((77u * p[0] + 150u * p[1] + 29u * p[2]) >> 8);
    size_t stride = (size_t)g->w + 1;
    memset(g->integral, 0, stride * sizeof *g->integral);
    for (int y = 0; y < g->h; y++) {
        uint32_t row = 0;
        g->integral[(size_t)(y + 1) * stride] = 0;
        for (int x = 0; x < g->w; x++) {
            row += g->grey[(size_t)y * g->w + x];
            g->integral[(size_t)(y + 1) * stride + x + 1] =
                g->integral[(size_t)y * stride + x + 1] + row;
        }
    }
}

/* Ink against the local mean, both polarities (dark-on-light signs and
 * light-on-dark captions). The window is a fraction of the picture, so it
 * is wider than a letter's stroke at any size the test can see. */
static void make_mask(guess_work *g, int contrast)
{
    int side = min_i(g->w, g->h);
    int r = side / 8;
    r = r < 6 ? 6 : r > 24 ? 24 : r;
    size_t stride = (size_t)g->w + 1;
    for (int y = 0; y < g->h; y++) {
        int y0 = max_i(y - r, 0), y1 = min_i(y + r + 1, g->h);
        for (int x = 0; x < g->w; x++) {
            int x0 = max_i(x - r, 0), x1 = min_i(x + r + 1, g->w);
            uint32_t sum = g->integral[(size_t)y1 * stride + x1] -
                           g->integral[(size_t)y0 * stride + x1] -
                           g->integral[(size_t)y1 * stride + x0] +
                           g->integral[(size_t)y0 * stride + x0];
            int mean = (int)(sum / (uint32_t)((y1 - y0) * (x1 - x0)));
            int v = g->grey[(size_t)y * g->w + x];
            g->mask[(size_t)y * g->w + x] = v < mean - contrast ? 1 : v > mean + contrast ? 2 : 0;
        }
    }
}

/* Flood-fills the 8-connected component at `start`, measuring it. The
 * stack holds y << 16 | x (the test image is at most 65535 wide: its
 * pixel count is capped and it is at least 16 high). */
static blob fill_component(guess_work *g, size_t start)
{
    uint8_t m = g->mask[start];
    int w = g->w, h = g->h;
    int sx = (int)(start % (size_t)w), sy = (int)(start / (size_t)w);
    blob b = {.x0 = sx, .y0 = sy, .x1 = sx, .y1 = sy, .polarity = m, .label = ++g->next_label};
    size_t top = 0;
    g->stack[top++] = (uint32_t)sy << 16 | (uint32_t)sx;
    g->mask[start] |= 4;
    g->label[start] = b.label;
    while (top) {
        uint32_t v = g->stack[--top];
        int x = (int)(v & 0xffff), y = (int)(v >> 16);
        b.area++;
        b.x0 = x < b.x0 ? x : b.x0;
        b.x1 = x > b.x1 ? x : b.x1;
        b.y0 = y < b.y0 ? y : b.y0;
        b.y1 = y > b.y1 ? y : b.y1;
        const uint8_t *row = g->mask + (size_t)y * w;
        /* on the perimeter: at the border or next to other pixels (4-way) */
        bool edge = x == 0 || y == 0 || x == w - 1 || y == h - 1 || (row[x - 1] & 3) != m ||
                    (row[x + 1] & 3) != m || (row[x - w] & 3) != m || (row[x + w] & 3) != m;
        b.perimeter += edge;
        int ylo = y > 0 ? y - 1 : y, yhi = y < h - 1 ? y + 1 : y;
        int xlo = x > 0 ? x - 1 : x, xhi = x < w - 1 ? x + 1 : x;
        for (int ny = ylo; ny <= yhi; ny++) {
            uint8_t *nrow = g->mask + (size_t)ny * w;
            for (int nx = xlo; nx <= xhi; nx++) {
                if (nrow[nx] == m) {   /* same ink, not labelled yet */
                    nrow[nx] |= 4;
                    g->label[(size_t)ny * w + nx] = b.label;
                    g->stack[top++] = (uint32_t)ny << 16 | (uint32_t)nx;
                }
            }
        }
    }
    return b;
}

/* Holes in a component, from its Euler number (Gray's bit quads over its
 * box: for 8-connected ink, E = (Q1 - Q3 - 2 QD) / 4 and holes = 1 - E).
 * Letters have at most two (B, 8); a coin, a leaf or gravel seen as one
 * blob is riddled with them. */
static int holes(const guess_work *g, const blob *b)
{
    int q1 = 0, q3 = 0, qd = 0;
    for (int y = b->y0 - 1; y <= b->y1; y++) {
        for (int x = b->x0 - 1; x <= b->x1; x++) {
            bool p[4];
            for (int k = 0; k < 4; k++) {
                int px = x + (k & 1), py = y + (k >> 1);
                p[k] = px >= 0 && py >= 0 && px < g->w && py < g->h &&
                       (g->mask[(size_t)py * g->w + px] & 4) &&
                       g->label[(size_t)py * g->w + px] == b->label;
            }
            int count = p[0] + p[1] + p[2] + p[3];
            q1 += count == 1;
            q3 += count == 3;
            qd += count == 2 && p[0] == p[3];
        }
    }
    return 1 - (q1 - q3 - 2 * qd) / 4;
}

/* Letter-shaped: clear of the border, a letter's proportions, and strokes
 * thin for its height (a disc, a brick or a blotch is thick). */
static bool letter_shaped(blob *b, int w_img, int h_img)
{
    int bw = b->x1 - b->x0 + 1, bh = b->y1 - b->y0 + 1;
    if (b->x0 == 0 || b->y0 == 0 || b->x1 == w_img - 1 || b->y1 == h_img - 1)
        return false;
    /* up to 4 heights wide: small letters that touch merge ("WIDGET") */
    if (bh < MIN_LETTER_PX || bh * 5 > h_img * 4 || bw > 4 * bh || b->area < 12)
        return false;
    double fill = (double)b->area / ((double)bw * bh);
    b->thin = bw * 3 <= bh;
    if (b->thin) {
        b->stroke = (float)bw;
        return fill >= 0.5;
    }
    double stroke = 2.0 * b->area / (b->perimeter ? b->perimeter : 1);
    b->stroke = (float)stroke;
    /* a pixel more for small letters, whose strokes blur */
    return fill >= 0.1 && fill <= 0.8 && stroke <= 0.3 * bh + 1.0;
}

static int find_row(blob *blobs, int i)
{
    while (blobs[i].row != i) {
        blobs[i].row = blobs[blobs[i].row].row;
        i = blobs[i].row;
    }
    return i;
}

static int compare_x0(const void *a, const void *b)
{
    const blob *p = a, *q = b;
    return (p->x0 > q->x0) - (p->x0 < q->x0);
}

static int compare_y0(const void *a, const void *b)
{
    const blob *p = a, *q = b;
    return (p->y0 > q->y0) - (p->y0 < q->y0);
}

static int compare_int(const void *a, const void *b)
{
    int p = *(const int *)a, q = *(const int *)b;
    return (p > q) - (p < q);
}

static long box_area(const blob *b) { return (long)(b->x1 - b->x0 + 1) * (b->y1 - b->y0 + 1); }

/* Letters stand apart; blobs whose boxes overlap much are texture. Blobs
 * are sorted by x0. */
static void mark_overlaps(blob *blobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        blob *a = &blobs[i];
        for (size_t j = i + 1; j < n && blobs[j].x0 <= a->x1; j++) {
            blob *b = &blobs[j];
            if (b->polarity != a->polarity)
                continue;
            int ix = min_i(a->x1, b->x1) - max_i(a->x0, b->x0) + 1;
            int iy = min_i(a->y1, b->y1) - max_i(a->y0, b->y0) + 1;
            long smaller = box_area(a) < box_area(b) ? box_area(a) : box_area(b);
            if (ix > 0 && iy > 0 && (long)ix * iy * 5 > smaller)
                a->overlaps = b->overlaps = true;
        }
    }
}

/* Neighbours in a row: same polarity, similar height, a shared baseline or
 * top line, and the next one within about a letter's height (letter and
 * word spacing). Blobs are sorted by x0. */
static void link_rows(blob *blobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const blob *a = &blobs[i];
        int ah = a->y1 - a->y0 + 1;
        if (a->overlaps)
            continue;
        for (size_t j = i + 1; j < n && blobs[j].x0 <= a->x1 + 2 * ah; j++) {
            const blob *b = &blobs[j];
            int bh = b->y1 - b->y0 + 1;
            int hi = max_i(ah, bh), lo = min_i(ah, bh);
            if (b->overlaps || b->polarity != a->polarity || hi > 2 * lo || b->x0 <= a->x0)
                continue;
            if (b->x0 < a->x1 - lo / 3 || (b->x0 - a->x1) * 5 > hi * 6)
                continue;   /* one above the other, or too far apart */
            int tol = hi / 5 + 1;
            if (abs(a->y1 - b->y1) > tol && abs(a->y0 - b->y0) > tol)
                continue;
            int ra = find_row(blobs, (int)i), rb = find_row(blobs, (int)j);
            if (ra != rb)
                blobs[rb].row = ra;
        }
    }
}

typedef struct row_stats {
    int members, wide, x0, x1, y0, y1;
    long ink;                /* pixels of its letters */
    float smin, smax;        /* stroke widths of its letters (not bars) */
    uint8_t polarity;
    bool valid;
} row_stats;

static bool row_clean(const guess_work *g, const row_stats *s)
{
    long same = 0;
    for (int y = s->y0; y <= s->y1; y++)
        for (int x = s->x0; x <= s->x1; x++)
            same += (g->mask[(size_t)y * g->w + x] & 3) == s->polarity;
    return same > 0 && (double)s->ink / (double)same >= ROW_PURITY;
}

static void add_to_row(row_stats *s, const blob *b)
{
    if (s->members == 0) {
        *s = (row_stats){.x0 = b->x0, .x1 = b->x1, .y0 = b->y0, .y1 = b->y1,
                         .smin = 1e9f, .smax = 0, .polarity = b->polarity};
    }
    s->members++;
    s->ink += b->area;
    s->x0 = min_i(s->x0, b->x0);
    s->x1 = max_i(s->x1, b->x1);
    s->y0 = min_i(s->y0, b->y0);
    s->y1 = max_i(s->y1, b->y1);
    if (!b->thin) {
        s->wide++;
        s->smin = b->stroke < s->smin ? b->stroke : s->smin;
        s->smax = b->stroke > s->smax ? b->stroke : s->smax;
    }
}

/* The letters test on one image: counts and the verdict into *out. */
static cs_status letters_test(guess_work *g, ocr_text_guess *out, cs_error *err)
{
    make_mask(g, INK_CONTRAST);
    size_t n = (size_t)g->w * (size_t)g->h;
    g->nblobs = 0;
    for (size_t i = 0; i < n && g->nblobs < MAX_BLOBS; i++) {
        if ((g->mask[i] & 3) == 0 || (g->mask[i] & 4))
            continue;
        blob b = fill_component(g, i);
        if (letter_shaped(&b, g->w, g->h) && holes(g, &b) <= 3)
            g->blobs[g->nblobs++] = b;
    }
    size_t nb = g->nblobs;
    qsort(g->blobs, nb, sizeof *g->blobs, compare_x0);
    for (size_t i = 0; i < nb; i++)
        g->blobs[i].row = (int)i;
    mark_overlaps(g->blobs, nb);
    link_rows(g->blobs, nb);
    row_stats *rows = calloc(nb ? nb : 1, sizeof *rows);
    int *heights = malloc((nb ? nb : 1) * sizeof *heights);
    if (!rows || !heights) {
        free(rows);
        free(heights);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory in the text test");
    }
    for (size_t i = 0; i < nb; i++)
        add_to_row(&rows[find_row(g->blobs, (int)i)], &g->blobs[i]);
    for (size_t i = 0; i < nb; i++) {
        row_stats *s = &rows[i];
        /* three or more, two of them not bars, one font, on clean ground */
        s->valid = s->members >= 3 && s->wide >= 2 && s->smax <= STROKE_SPREAD * s->smin &&
                   row_clean(g, s);
        out->rows += s->valid;
    }
    int nheights = 0, best = 0;
    int rx0 = g->w, ry0 = g->h, rx1 = -1, ry1 = -1;   /* where the rows are */
    for (size_t i = 0; i < nb; i++) {
        const row_stats *s = &rows[find_row(g->blobs, (int)i)];
        const blob *b = &g->blobs[i];
        int bh = b->y1 - b->y0 + 1;
        if (!s->valid || s->x1 - s->x0 + 1 < 2 * bh)
            continue;
        heights[nheights++] = bh;
        best = max_i(best, s->members);
        rx0 = min_i(rx0, b->x0);
        rx1 = max_i(rx1, b->x1);
        ry0 = min_i(ry0, b->y0);
        ry1 = max_i(ry1, b->y1);
    }
    out->candidates = (int)nb;
    out->in_rows = nheights;
    int around = 0;   /* letter-shaped blobs in and around the rows */
    if (nheights) {
        qsort(heights, (size_t)nheights, sizeof *heights, compare_int);
        out->letter_height = (float)heights[nheights / 2];
        int m = heights[nheights / 2];
        for (size_t i = 0; i < nb; i++) {
            const blob *b = &g->blobs[i];
            int cx = (b->x0 + b->x1) / 2, cy = (b->y0 + b->y1) / 2;
            around += cx >= rx0 - m && cx <= rx1 + m && cy >= ry0 - m && cy <= ry1 + m;
        }
    }
    /* Two rows' worth of letters, one of them a word or more long, making
     * most of what stands around them: rows that chance forms in texture
     * (grass, gravel, foliage) are a few among many blobs. */
    bool clean = 2 * nheights >= around;
    out->likely = nheights >= 8 && best >= 4 && clean;
    /* a clean row or two, too few letters to be sure: a short word, or a
     * line whose small letters this size cannot show */
    out->look_closer = !out->likely && nheights >= 3 && clean;
    free(rows);
    free(heights);
    return CS_OK;
}

/* Small print seen from afar: each line of text blurs into a thin
 * horizontal bar, and the lines stack with even spacing (a page, a
 * receipt, a screenshot). Close gaps of a few pixels within a row first,
 * so that the letters of a line join into one bar. */
static void lines_test(guess_work *g, ocr_text_guess *out)
{
    make_mask(g, LINE_CONTRAST);
    for (int y = 0; y < g->h; y++) {
        uint8_t *row = g->mask + (size_t)y * g->w;
        int last = -100;
        for (int x = 0; x < g->w; x++) {
            if (row[x] != 1)
                continue;
            if (x - last > 1 && x - last <= 3)
                memset(row + last + 1, 1, (size_t)(x - last - 1));
            last = x;
        }
        for (int x = 0; x < g->w; x++)
            if (row[x] == 2)
                row[x] = 0;   /* bars of dark print only: light print is rarer */
    }
    size_t n = (size_t)g->w * (size_t)g->h;
    g->nblobs = 0;
    for (size_t i = 0; i < n && g->nblobs < MAX_BLOBS; i++) {
        if ((g->mask[i] & 3) == 0 || (g->mask[i] & 4))
            continue;
        blob b = fill_component(g, i);
        int bw = b.x1 - b.x0 + 1, bh = b.y1 - b.y0 + 1;
        bool border = b.x0 == 0 || b.y0 == 0 || b.x1 == g->w - 1 || b.y1 == g->h - 1;
        if (!border && bh <= 6 && bw >= 6 && bw >= 4 * bh && b.area * 5 >= bw * bh * 2)
            g->blobs[g->nblobs++] = b;
    }
    size_t nb = g->nblobs;
    qsort(g->blobs, nb, sizeof *g->blobs, compare_y0);
    for (size_t i = 0; i < nb; i++)
        g->blobs[i].row = (int)i;
    /* a bar and the next one down: overlapping in x, similar thickness,
     * one to three line heights apart */
    for (size_t i = 0; i < nb; i++) {
        const blob *a = &g->blobs[i];
        int ah = a->y1 - a->y0 + 1;
        for (size_t j = i + 1; j < nb && g->blobs[j].y0 <= a->y1 + 4 * ah + 3; j++) {
            const blob *b = &g->blobs[j];
            int bh = b->y1 - b->y0 + 1;
            int ox = min_i(a->x1, b->x1) - max_i(a->x0, b->x0) + 1;
            int shorter = min_i(a->x1 - a->x0, b->x1 - b->x0) + 1;
            if (b->y0 <= a->y1 || max_i(ah, bh) > 2 * min_i(ah, bh) || ox * 2 < shorter)
                continue;
            int ra = find_row(g->blobs, (int)i), rb = find_row(g->blobs, (int)j);
            if (ra != rb)
                g->blobs[rb].row = ra;
        }
    }
    int *sizes = calloc(nb ? nb : 1, sizeof *sizes);
    if (!sizes)
        return;   /* the closer look is an optimisation: no verdict is safe */
    for (size_t i = 0; i < nb; i++)
        sizes[find_row(g->blobs, (int)i)]++;
    for (size_t i = 0; i < nb; i++)
        out->lines = max_i(out->lines, sizes[i]);
    free(sizes);
    out->look_closer = out->look_closer || out->lines >= 4;
}

cs_status ocr_guess_text(const cs_image *image, ocr_text_guess *out, cs_error *err)
{
    memset(out, 0, sizeof *out);
    if (!image || !image->pixels || image->width < 16 || image->height < 16)
        return CS_OK;
    cs_image reduced = {0};
    const cs_image *img = image;
    double pixels = (double)image->width * image->height;
    if (pixels > GUESS_MAX_PIXELS) {
        double f = sqrt(GUESS_MAX_PIXELS / pixels);
        int w = (int)(image->width * f), h = (int)(image->height * f);
        cs_status rc = image_resize(image, max_i(w, 16), max_i(h, 16), &reduced, err);
        if (rc != CS_OK)
            return rc;
        img = &reduced;
    }
    guess_work g = {.w = img->width, .h = img->height};
    size_t n = (size_t)g.w * (size_t)g.h;
    g.grey = malloc(n);
    g.integral = malloc(((size_t)g.w + 1) * ((size_t)g.h + 1) * sizeof *g.integral);
    g.mask = malloc(n);
    g.label = malloc(n * sizeof *g.label);
    g.stack = malloc(n * sizeof *g.stack);
    g.blobs = malloc(MAX_BLOBS * sizeof *g.blobs);
    cs_status rc = CS_OK;
    if (!g.grey || !g.integral || !g.mask || !g.label || !g.stack || !g.blobs) {
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory in the text test");
    } else {
        make_grey(img, &g);
        rc = letters_test(&g, out, err);
        if (rc == CS_OK && !out->likely)
            lines_test(&g, out);
        /* heights are given in the caller's image's pixels */
        if (img != image && out->letter_height > 0)
            out->letter_height *= (float)image->width / (float)img->width;
    }
    guess_work_free(&g);
    image_free(&reduced);
    return rc;
}

int ocr_read_min_side(const ocr_text_guess *guess, const cs_image *tested, int full_w,
                      int full_h)
{
    int tested_short = min_i(tested->width, tested->height);
    int full_short = min_i(full_w, full_h), full_long = max_i(full_w, full_h);
    if (tested_short >= full_short || guess->letter_height <= 0)
        return -1;   /* nothing sharper to decode */
    double want = tested_short * (OCR_TARGET_LETTER_PX / guess->letter_height);
    double cap = (double)OCR_MAX_SIDE * full_short / full_long;
    if (want > cap)
        want = cap;   /* the long side stays within OCR_MAX_SIDE */
    if (want <= tested_short * 1.25)
        return -1;    /* not worth a second decode */
    return want >= full_short ? 0 : (int)want;
}

int ocr_closer_min_side(const cs_image *tested, int full_w, int full_h)
{
    int tested_short = min_i(tested->width, tested->height);
    int full_short = min_i(full_w, full_h);
    if (tested_short >= full_short || tested_short * 2 > CLOSER_LOOK_SIDE)
        return -1;
    return full_short <= CLOSER_LOOK_SIDE ? 0 : CLOSER_LOOK_SIDE;
}

/* ---------- the whole step ---------- */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

void ocr_outcome_free(ocr_outcome *out)
{
    if (out) {
        free(out->text);
        out->text = NULL;
    }
}

/* A failed second decode is not the picture's fault (it decoded once):
 * only running out of memory stops the caller. */
static cs_status decode_again(const ocr_picture *pic, int min_side, cs_decoded *out,
                              ocr_outcome *o, bool *ok, cs_error *err)
{
    double t = now_ms();
    cs_error why;
    cs_status rc = pic->decode(min_side, out, pic->user, &why);
    o->decode_ms += now_ms() - t;
    *ok = rc == CS_OK;
    if (rc == CS_ERR_NOMEM)
        return cs_error_set(err, rc, "%s", why.message);
    return CS_OK;
}

cs_status ocr_picture_text(const ocr_picture *pic, ocr_outcome *o, cs_error *err)
{
    memset(o, 0, sizeof *o);
    const cs_decoded *small = pic->analysis;
    double t = now_ms();
    cs_status rc = ocr_guess_text(&small->image, &o->first, err);
    o->test_ms = now_ms() - t;
    if (rc != CS_OK)
        return rc;
    const cs_image *tested = &small->image;
    const ocr_text_guess *guess = &o->first;
    cs_decoded closer = {0}, sharp = {0};
    bool ok = true;
    if (!o->first.likely && o->first.look_closer) {
        int side = ocr_closer_min_side(tested, small->full_width, small->full_height);
        if (side >= 0) {
            rc = decode_again(pic, side, &closer, o, &ok, err);
            if (rc == CS_OK && ok) {
                o->looked_closer = true;
                t = now_ms();
                rc = ocr_guess_text(&closer.image, &o->closer, err);
                o->test_ms += now_ms() - t;
                tested = &closer.image;
                guess = &o->closer;
            }
        }
    }
    ocr_engine *engine = rc == CS_OK && ok && guess->likely ? pic->engine(pic->user) : NULL;
    if (engine) {
        const cs_image *img = tested;
        float letters = guess->letter_height;
        int side = ocr_read_min_side(guess, tested, small->full_width, small->full_height);
        if (side >= 0) {
            rc = decode_again(pic, side, &sharp, o, &ok, err);
            if (rc == CS_OK && ok) {
                letters *= (float)sharp.image.width / (float)tested->width;
                img = &sharp.image;
            }
        }
        if (rc == CS_OK && ok) {
            t = now_ms();
            cs_error why;
            /* rows of letters stacked up, or lines of small print: a block */
            ocr_layout layout = guess->rows >= 4 || o->first.lines >= 4 ? OCR_BLOCK : OCR_SPARSE;
            rc = ocr_read(engine, img, letters, layout, &o->text, &why);
            o->read_ms = now_ms() - t;
            o->read = true;
            o->read_width = img->width;
            o->read_height = img->height;
            if (rc == CS_ERR_NOMEM)
                cs_error_set(err, rc, "%s", why.message);
            else
                rc = CS_OK;   /* Tesseract failing on one picture is that picture's loss */
        }
    }
    image_decoded_free(&closer);
    image_decoded_free(&sharp);
    if (rc == CS_OK && !o->text && !(o->text = strdup("")))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    if (rc != CS_OK)
        ocr_outcome_free(o);
    return rc;
}

/* ---------- Tesseract ---------- */

#if CAPSEARCH_HAVE_TESSERACT

#include <tesseract/capi.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Where Debian's tesseract-ocr-* packages put traineddata (5.x, then 4.x). */
static const char *const default_dirs[] = {
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
};

/* Tesseract gives up on one picture after this long (a safety net for a
 * huge, busy poster; ordinary pictures take 0.05-0.5 s). */
#define OCR_DEADLINE_MS 8000
#define MAX_LANGUAGES 128

static pthread_once_t dir_once = PTHREAD_ONCE_INIT;
static char data_dir[1024];

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool has_traineddata(const char *dir, const char *lang)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.traineddata", dir, lang);
    return file_exists(path);
}

/* Tesseract's own rule: $TESSDATA_PREFIX names the tessdata folder (or,
 * in older setups, its parent); else the compiled-in default. */
static void find_data_dir(void)
{
    const char *prefix = getenv("TESSDATA_PREFIX");
    if (prefix && *prefix) {
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/tessdata", prefix);
        snprintf(data_dir, sizeof data_dir, "%s",
                 has_traineddata(prefix, "eng") || !has_traineddata(sub, "eng") ? prefix : sub);
        return;
    }
    for (size_t i = 0; i < sizeof default_dirs / sizeof default_dirs[0]; i++) {
        struct stat st;
        if (stat(default_dirs[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(data_dir, sizeof data_dir, "%s", default_dirs[i]);
            return;
        }
    }
    snprintf(data_dir, sizeof data_dir, "%s", default_dirs[0]);
}

const char *ocr_data_dir(void)
{
    pthread_once(&dir_once, find_data_dir);
    return data_dir;
}

const char *ocr_version(void) { return TessVersion(); }

static int compare_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void ocr_installed_languages(strbuf *out)
{
    DIR *d = opendir(ocr_data_dir());
    if (!d)
        return;
    char *names[MAX_LANGUAGES];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_LANGUAGES) {
        size_t len = strlen(e->d_name);
        const char *ext = ".traineddata";
        size_t el = strlen(ext);
        if (len > el && strcmp(e->d_name + len - el, ext) == 0 && e->d_name[0] != '.') {
            names[n] = strndup(e->d_name, len - el);
            if (names[n])
                n++;
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_str);
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_append_char(out, ' ');
        strbuf_append(out, names[i]);
        free(names[i]);
    }
}

/* "eng+deu": letters, digits, '_' and '-' between '+'s, nothing empty. */
static bool languages_valid(const char *langs)
{
    size_t len = strlen(langs);
    if (len == 0 || len > 200 || langs[0] == '+' || langs[len - 1] == '+' || strstr(langs, "++"))
        return false;
    for (const char *c = langs; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-' || *c == '+'))
            return false;
    return true;
}

cs_status ocr_check_languages(const char *languages, cs_error *err)
{
    const char *langs = languages && *languages ? languages : "eng";
    if (!languages_valid(langs))
        return cs_error_set(err, CS_ERR_INVALID,
                            "OCR languages '%s' are not Tesseract language codes joined by '+' "
                            "(e.g. eng or eng+deu)", langs);
    const char *dir = ocr_data_dir();
    for (const char *p = langs; *p;) {
        size_t n = strcspn(p, "+");
        char lang[208];
        snprintf(lang, sizeof lang, "%.*s", (int)n, p);
        if (!has_traineddata(dir, lang))
            return cs_error_set(err, CS_ERR_NOT_FOUND,
                                "Tesseract's data for '%s' is missing (%s/%s.traineddata): "
                                "install Debian's tesseract-ocr-%s, or set TESSDATA_PREFIX to "
                                "the folder holding it", lang, dir, lang, lang);
        p += n;
        if (*p == '+')
            p++;
    }
    return CS_OK;
}

/* Tesseract's LSTM asks OpenMP for 4 to 10 threads per call. With one
 * indexing thread per core already, that oversubscribes the machine and
 * the threads spin-wait: measured 3.5x slower (a line of text 88 ms
 * instead of 25 ms, a page 800 ms instead of 270 ms). libgomp's limit on
 * active parallel levels is process-wide, so it is set to 0 (every parallel
 * region runs on the calling thread) only while some thread is reading,
 * and put back after the last one. */
static pthread_mutex_t omp_mu = PTHREAD_MUTEX_INITIALIZER;
static int omp_readers, omp_saved_levels;

static void omp_serial_enter(void)
{
#ifdef _OPENMP
    pthread_mutex_lock(&omp_mu);
    if (omp_readers++ == 0) {
        omp_saved_levels = omp_get_max_active_levels();
        omp_set_max_active_levels(0);
    }
    pthread_mutex_unlock(&omp_mu);
#endif
}

static void omp_serial_leave(void)
{
#ifdef _OPENMP
    pthread_mutex_lock(&omp_mu);
    if (--omp_readers == 0)
        omp_set_max_active_levels(omp_saved_levels);
    pthread_mutex_unlock(&omp_mu);
#endif
}

struct ocr_engine {
    TessBaseAPI *api;
    uint8_t *grey;
    size_t grey_cap;
};

cs_status ocr_engine_new(const char *languages, ocr_engine **out, cs_error *err)
{
    *out = NULL;
    const char *langs = languages && *languages ? languages : "eng";
    cs_status rc = ocr_check_languages(langs, err);
    if (rc != CS_OK)
        return rc;
    ocr_engine *e = calloc(1, sizeof *e);
    if (!e)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting OCR");
    e->api = TessBaseAPICreate();
    if (!e->api) {
        free(e);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting OCR");
    }
    if (TessBaseAPIInit3(e->api, ocr_data_dir(), langs) != 0) {
        ocr_engine_free(e);
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "Tesseract could not load '%s' from %s: reinstall Debian's "
                            "tesseract-ocr-eng (and the other languages named)", langs,
                            ocr_data_dir());
    }
    /* Tesseract reports on stderr by default; a library must stay quiet. */
    TessBaseAPISetVariable(e->api, "debug_file", "/dev/null");
    *out = e;
    return CS_OK;
}

void ocr_engine_free(ocr_engine *e)
{
    if (!e)
        return;
    if (e->api) {
        TessBaseAPIEnd(e->api);
        TessBaseAPIDelete(e->api);
    }
    free(e->grey);
    free(e);
}

/* A word worth keeping: mostly letters or digits (any non-ASCII byte
 * counts as a letter), and two of them unless Tesseract is very sure: what
 * it reads into texture is mostly short runs of punctuation ("@8e", "|"). */
static bool worth_keeping(const char *w, float confidence)
{
    size_t alnum = 0, other = 0;
    for (const unsigned char *c = (const unsigned char *)w; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            *c >= 0x80)
            alnum++;
        else if (*c > ' ')
            other++;
    }
    if (alnum < other)
        return false;
    return alnum >= 2 || (alnum == 1 && other == 0 && confidence >= 85.0f);
}

/* Appends one word, whitespace and control characters dropped; false when
 * it would pass the cap. */
static bool append_word(strbuf *sb, const char *w)
{
    size_t len = 0;
    for (const unsigned char *c = (const unsigned char *)w; *c; c++)
        len += *c > ' ' && *c != 0x7f;
    if (sb->len + len + 1 > OCR_MAX_TEXT)
        return false;
    if (sb->len)
        strbuf_append_char(sb, ' ');
    for (const unsigned char *c = (const unsigned char *)w; *c; c++)
        if (*c > ' ' && *c != 0x7f)
            strbuf_append_char(sb, (char)*c);
    return true;
}

/* The image at the size Tesseract reads best: letters ~32 px tall (small
 * letters are misread, huge ones waste time), the long side within
 * OCR_MAX_SIDE. *out is `image` itself or `scaled`. */
static cs_status scale_for_reading(const cs_image *image, float letter_height, cs_image *scaled,
                                   const cs_image **out, cs_error *err)
{
    *out = image;
    int longest = image->width > image->height ? image->width : image->height;
    double f = 1.0;
    if (letter_height > 0 && (letter_height < 0.7f * OCR_TARGET_LETTER_PX ||
                              letter_height > 2.0f * OCR_TARGET_LETTER_PX))
        f = OCR_TARGET_LETTER_PX / letter_height;
    if (longest * f > OCR_MAX_SIDE)
        f = (double)OCR_MAX_SIDE / longest;
    if (f > 0.95 && f < 1.05)
        return CS_OK;
    int w = (int)(image->width * f + 0.5), h = (int)(image->height * f + 0.5);
    cs_status rc = image_resize(image, w < 1 ? 1 : w, h < 1 ? 1 : h, scaled, err);
    if (rc == CS_OK)
        *out = scaled;
    return rc;
}

cs_status ocr_read(ocr_engine *e, const cs_image *original, float letter_height,
                   ocr_layout layout, char **text, cs_error *err)
{
    *text = NULL;
    if (!e || !original || !original->pixels || original->width < 1 || original->height < 1)
        return cs_error_set(err, CS_ERR_INVALID, "OCR: no engine or no image");
    cs_image scaled = {0};
    const cs_image *image = NULL;
    cs_status rc = scale_for_reading(original, letter_height, &scaled, &image, err);
    if (rc != CS_OK)
        return rc;
    size_t n = (size_t)image->width * (size_t)image->height;
    if (n > e->grey_cap) {
        uint8_t *grey = realloc(e->grey, n);
        if (!grey) {
            image_free(&scaled);
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory for OCR");
        }
        e->grey = grey;
        e->grey_cap = n;
    }
    const uint8_t *p = image->pixels;
    for (size_t i = 0; i < n; i++, p += 3)
        e->grey[i] = (uint8_t)((77u * p[0] + 150u * p[1] + 29u * p[2]) >> 8);
    /* Photos hold text in scattered places: sparse text finds signs and
     * labels that page layout analysis drops. A block of lines reads better
     * as one block: sparse mode splits "3.99" and loses the "3." (measured
     * on the receipt render); page layout analysis (PSM_AUTO) read only one
     * word of its 18 lines. */
    TessBaseAPISetPageSegMode(e->api, layout == OCR_BLOCK ? PSM_SINGLE_BLOCK : PSM_SPARSE_TEXT);
    TessBaseAPISetImage(e->api, e->grey, image->width, image->height, 1, image->width);
    image_free(&scaled);
    /* A fixed resolution: Tesseract would otherwise guess one and say so. */
    TessBaseAPISetSourceResolution(e->api, 300);
    ETEXT_DESC *monitor = TessMonitorCreate();
    if (monitor)
        TessMonitorSetDeadlineMSecs(monitor, OCR_DEADLINE_MS);
    omp_serial_enter();
    int failed = TessBaseAPIRecognize(e->api, monitor);
    omp_serial_leave();
    TessMonitorDelete(monitor);
    strbuf sb;
    strbuf_init(&sb);
    TessResultIterator *it = failed ? NULL : TessBaseAPIGetIterator(e->api);
    if (it) {
        TessPageIterator *page = TessResultIteratorGetPageIterator(it);
        bool room = true;
        do {
            char *word = TessResultIteratorGetUTF8Text(it, RIL_WORD);
            float conf = TessResultIteratorConfidence(it, RIL_WORD);
            if (word && conf >= OCR_MIN_CONFIDENCE && worth_keeping(word, conf))
                room = append_word(&sb, word);
            TessDeleteText(word);
        } while (room && TessPageIteratorNext(page, RIL_WORD));
        TessResultIteratorDelete(it);
    }
    TessBaseAPIClear(e->api);
    *text = strbuf_take(&sb);
    if (!*text) {
        strbuf_free(&sb);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for OCR text");
    }
    return CS_OK;
}

#else /* built without Tesseract */

const char *ocr_version(void) { return NULL; }
const char *ocr_data_dir(void) { return NULL; }
void ocr_installed_languages(strbuf *out) { (void)out; }

cs_status ocr_check_languages(const char *languages, cs_error *err)
{
    (void)languages;
    return cs_error_set(err, CS_ERR_UNSUPPORTED,
                        "capsearch was built without Tesseract: install Debian's "
                        "libtesseract-dev and tesseract-ocr-eng and rebuild to read text "
                        "in pictures");
}

cs_status ocr_engine_new(const char *languages, ocr_engine **out, cs_error *err)
{
    *out = NULL;
    return ocr_check_languages(languages, err);
}

void ocr_engine_free(ocr_engine *engine) { (void)engine; }

cs_status ocr_read(ocr_engine *engine, const cs_image *image, float letter_height,
                   ocr_layout layout, char **text, cs_error *err)
{
    (void)engine;
    (void)image;
    (void)letter_height;
    (void)layout;
    *text = NULL;
    return ocr_check_languages(NULL, err);
}

#endif
