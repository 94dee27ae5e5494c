/* Runs the checks listed in a manifest written by fixtures.py: decoded
 * pixels against PIL's decode of the same file, EXIF fields against the
 * values the generator wrote, expected errors for hostile files, pHash
 * parity with the numpy reference, and pHash / layout behaviour on photos.
 *
 * Manifest: one check per line, tab-separated fields:
 *   decode  FILE REF TARGET MAXDIFF MEANDIFF W H FULL_W FULL_H FORMAT
 *   partial FILE REF ROWS_PERCENT MAXDIFF MEANDIFF
 *   fail    FILE STATUS                     (corrupt | too_large | unsupported)
 *   quads   FILE R G B  R G B  R G B  R G B TOL  (TL TR BL BR mean colours)
 *   exif    FILE ORIENTATION TAKEN_AT|- MAKE MODEL LAT|- LON|-
 *   dexif   (same fields) EXIF as image_decode reports it (HEIF, WebP, PNG)
 *   phash   BLOCKS INDEX HEX                (float32 32x32 blocks)
 *   near    A B MAX_DISTANCE MIN_COSINE     (pHash and layout of two files)
 *   far     A B MIN_DISTANCE
 *   scaled  FILE TARGET MAX_DISTANCE        (pHash of a reduced decode vs full)
 *   nocrash FILE                            (decodes or fails with a message)
 *   prefixes FILE STEP                      (every truncation: no crash)
 *   mutate  FILE COUNT SEED                 (random byte damage: no crash)
 * REF is the expected RGB as raw bytes (W*H*3), "-" for none. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/fsutil.h"
#include "image/image.h"

#define MAX_FIELDS 20
#define FILE_LIMIT (256u << 20)

static const char *dir;

static char *path_of(const char *name)
{
    char *p = fs_path_join(dir, name);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static uint8_t *load(const char *name, size_t *len)
{
    char *p = path_of(name);
    uint8_t *data = NULL;
    cs_error err;
    if (fs_read_file(p, FILE_LIMIT, &data, len, &err) != CS_OK) {
        fprintf(stderr, "cannot read fixture %s: %s\n", p, err.message);
        check_failures++;
        data = NULL;
    }
    free(p);
    return data;
}

static cs_status decode_file(const char *name, int target, cs_decoded *out, cs_error *err)
{
    size_t len;
    uint8_t *data = load(name, &len);
    memset(out, 0, sizeof *out);
    if (!data)
        return cs_error_set(err, CS_ERR_IO, "missing fixture");
    cs_decode_options opt = {.target_min_side = target, .max_pixels = 0};
    cs_status rc = image_decode(data, len, name, &opt, out, err);
    free(data);
    return rc;
}

/* Compares the first `rows` rows of img with a raw RGB reference. */
static void compare_pixels(const char *name, const cs_image *img, const char *ref_name, int rows,
                           double max_allowed, double mean_allowed)
{
    size_t len;
    uint8_t *ref = load(ref_name, &len);
    if (!ref)
        return;
    size_t n = (size_t)img->width * (size_t)rows * 3;
    if (len < n) {
        fprintf(stderr, "%s: reference %s has %zu bytes, need %zu\n", name, ref_name, len, n);
        check_failures++;
        free(ref);
        return;
    }
    int max_diff = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)img->pixels[i] - (int)ref[i]);
        if (d > max_diff)
            max_diff = d;
        sum += d;
    }
    double mean = sum / (double)n;
    if (max_diff > max_allowed || mean > mean_allowed) {
        fprintf(stderr, "%s: pixels differ from %s: max %d (allowed %g), mean %.3f (allowed %g)\n",
                name, ref_name, max_diff, max_allowed, mean, mean_allowed);
        check_failures++;
    }
    free(ref);
}

static void check_decode(char **f)
{
    cs_decoded d;
    cs_error err = {0};
    cs_status rc = decode_file(f[1], atoi(f[3]), &d, &err);
    if (rc != CS_OK) {
        fprintf(stderr, "%s: decode failed: %s\n", f[1], err.message);
        check_failures++;
        return;
    }
    if (d.image.width != atoi(f[6]) || d.image.height != atoi(f[7]) ||
        d.full_width != atoi(f[8]) || d.full_height != atoi(f[9])) {
        fprintf(stderr, "%s: got %dx%d (full %dx%d), expected %sx%s (full %sx%s)\n", f[1],
                d.image.width, d.image.height, d.full_width, d.full_height, f[6], f[7], f[8], f[9]);
        check_failures++;
    } else if (strcmp(f[2], "-") != 0) {
        compare_pixels(f[1], &d.image, f[2], d.image.height, atof(f[4]), atof(f[5]));
    }
    if (strcmp(image_format_name(d.format), f[10]) != 0) {
        fprintf(stderr, "%s: format %s, expected %s\n", f[1], image_format_name(d.format), f[10]);
        check_failures++;
    }
    CHECK(!d.partial);
    image_decoded_free(&d);
}

static void check_partial(char **f)
{
    cs_decoded d;
    cs_error err = {0};
    cs_status rc = decode_file(f[1], 0, &d, &err);
    if (rc != CS_OK) {
        fprintf(stderr, "%s: a partly decodable JPEG was refused: %s\n", f[1], err.message);
        check_failures++;
        return;
    }
    CHECK(d.partial);
    compare_pixels(f[1], &d.image, f[2], d.image.height * atoi(f[3]) / 100, atof(f[4]), atof(f[5]));
    image_decoded_free(&d);
}

static cs_status status_named(const char *name)
{
    if (strcmp(name, "corrupt") == 0) return CS_ERR_CORRUPT;
    if (strcmp(name, "too_large") == 0) return CS_ERR_TOO_LARGE;
    if (strcmp(name, "unsupported") == 0) return CS_ERR_UNSUPPORTED;
    fprintf(stderr, "unknown status name %s\n", name);
    exit(2);
}

static void check_fail(char **f)
{
    cs_decoded d;
    cs_error err = {0};
    cs_status want = status_named(f[2]);
    cs_status rc = decode_file(f[1], 256, &d, &err);
    if (rc != want) {
        fprintf(stderr, "%s: status %d (%s), expected %s\n", f[1], (int)rc,
                rc == CS_OK ? "decoded" : err.message, f[2]);
        check_failures++;
    } else if (err.message[0] == '\0') {
        fprintf(stderr, "%s: error without a message\n", f[1]);
        check_failures++;
    } else {
        printf("  %-28s -> %s: %s\n", f[1], f[2], err.message);
    }
    CHECK(d.image.pixels == NULL);   /* nothing left allocated on failure */
    image_decoded_free(&d);
}

static void quadrant_mean(const cs_image *img, int qx, int qy, double mean[3])
{
    /* The middle half of the quadrant, away from edges where JPEG blurs. */
    int w = img->width / 2, h = img->height / 2;
    int x0 = qx * w + w / 4, y0 = qy * h + h / 4;
    double sum[3] = {0};
    int count = 0;
    for (int y = y0; y < y0 + h / 2; y++)
        for (int x = x0; x < x0 + w / 2; x++, count++)
            for (int c = 0; c < 3; c++)
                sum[c] += img->pixels[((size_t)y * img->width + x) * 3 + c];
    for (int c = 0; c < 3; c++)
        mean[c] = count ? sum[c] / count : -1;
}

static void check_quads(char **f)
{
    cs_decoded d;
    cs_error err = {0};
    if (decode_file(f[1], 0, &d, &err) != CS_OK) {
        fprintf(stderr, "%s: decode failed: %s\n", f[1], err.message);
        check_failures++;
        return;
    }
    static const char *where[4] = {"top-left", "top-right", "bottom-left", "bottom-right"};
    double tol = atof(f[14]);
    for (int q = 0; q < 4; q++) {
        double mean[3];
        quadrant_mean(&d.image, q % 2, q / 2, mean);
        for (int c = 0; c < 3; c++) {
            if (fabs(mean[c] - atof(f[2 + 3 * q + c])) > tol) {
                fprintf(stderr, "%s: %s quadrant is (%.0f,%.0f,%.0f), expected (%s,%s,%s)\n",
                        f[1], where[q], mean[0], mean[1], mean[2], f[2 + 3 * q],
                        f[3 + 3 * q], f[4 + 3 * q]);
                check_failures++;
                break;
            }
        }
    }
    image_decoded_free(&d);
}

static void compare_exif(char **f, const cs_exif *ep)
{
    cs_exif e = *ep;
    if (e.orientation != atoi(f[2])) {
        fprintf(stderr, "%s: orientation %d, expected %s\n", f[1], e.orientation, f[2]);
        check_failures++;
    }
    if (strcmp(f[3], "-") == 0) {
        CHECK(!e.has_taken_at);
    } else if (!e.has_taken_at || e.taken_at != strtoll(f[3], NULL, 10)) {
        fprintf(stderr, "%s: taken_at %d/%" PRId64 ", expected %s\n", f[1], e.has_taken_at,
                e.taken_at, f[3]);
        check_failures++;
    }
    CHECK_STR_EQ(e.make, f[4]);
    CHECK_STR_EQ(e.model, f[5]);
    if (strcmp(f[6], "-") == 0) {
        CHECK(!e.has_gps);
    } else {
        CHECK(e.has_gps);
        CHECK_NEAR(e.latitude, atof(f[6]), 1e-6);
        CHECK_NEAR(e.longitude, atof(f[7]), 1e-6);
    }
}

static void check_exif(char **f)
{
    size_t len;
    uint8_t *data = load(f[1], &len);
    if (!data)
        return;
    cs_exif e;
    image_parse_exif(data, len, &e);
    free(data);
    compare_exif(f, &e);
}

static void check_decoded_exif(char **f)
{
    cs_decoded d;
    cs_error err = {0};
    if (decode_file(f[1], 0, &d, &err) != CS_OK) {
        fprintf(stderr, "%s: decode failed: %s\n", f[1], err.message);
        check_failures++;
        return;
    }
    compare_exif(f, &d.exif);
    image_decoded_free(&d);
}

static void check_phash(char **f)
{
    size_t len;
    uint8_t *data = load(f[1], &len);
    if (!data)
        return;
    size_t index = strtoul(f[2], NULL, 10);
    size_t block = 32 * 32 * sizeof(float);
    if (len < (index + 1) * block) {
        fprintf(stderr, "%s: no block %zu\n", f[1], index);
        check_failures++;
    } else {
        float luma[32 * 32];
        memcpy(luma, data + index * block, block);   /* little-endian float32, as written */
        uint64_t got = phash_from_luma32(luma);
        uint64_t want = strtoull(f[3], NULL, 16);
        if (got != want) {
            fprintf(stderr, "block %zu: hash %016" PRIx64 ", reference %016" PRIx64
                    " (%d bits differ)\n", index, got, want, phash_distance(got, want));
            check_failures++;
        }
    }
    free(data);
}

static bool hash_and_layout(const char *name, uint64_t *hash, float layout[CS_LAYOUT_DIM])
{
    cs_decoded d;
    cs_error err = {0};
    if (decode_file(name, 0, &d, &err) != CS_OK) {
        fprintf(stderr, "%s: decode failed: %s\n", name, err.message);
        check_failures++;
        return false;
    }
    *hash = image_phash(&d.image);
    image_layout_vector(&d.image, layout);
    image_decoded_free(&d);
    return true;
}

static double dot(const float *a, const float *b)
{
    double s = 0;
    for (int i = 0; i < CS_LAYOUT_DIM; i++)
        s += (double)a[i] * b[i];
    return s;
}

static void check_near_far(char **f, bool near)
{
    uint64_t ha, hb;
    float la[CS_LAYOUT_DIM], lb[CS_LAYOUT_DIM];
    if (!hash_and_layout(f[1], &ha, la) || !hash_and_layout(f[2], &hb, lb))
        return;
    int distance = phash_distance(ha, hb);
    double cosine = dot(la, lb);
    printf("  %-6s %s vs %s: pHash distance %d, layout cosine %.3f\n", near ? "near" : "far",
           f[1], f[2], distance, cosine);
    if (near) {
        if (distance > atoi(f[3]) || cosine < atof(f[4])) {
            fprintf(stderr, "%s and %s should look alike: distance %d (max %s), "
                    "cosine %.3f (min %s)\n", f[1], f[2], distance, f[3], cosine, f[4]);
            check_failures++;
        }
    } else if (distance < atoi(f[3])) {
        fprintf(stderr, "%s and %s should differ: distance %d (min %s)\n", f[1], f[2],
                distance, f[3]);
        check_failures++;
    }
}

static void decode_must_not_crash(const char *what, const uint8_t *data, size_t len)
{
    cs_decoded d;
    cs_error err = {0};
    cs_decode_options opt = {.target_min_side = 64, .max_pixels = 0};
    cs_status rc = image_decode(data, len, what, &opt, &d, &err);
    if (rc == CS_OK) {
        CHECK(d.image.pixels && d.image.width > 0 && d.image.height > 0);
    } else {
        CHECK(d.image.pixels == NULL);
        CHECK(err.message[0] != '\0');
    }
    image_decoded_free(&d);
    cs_exif e;
    image_parse_exif(data, len, &e);
}

static void check_scaled(char **f)
{
    cs_decoded full, reduced;
    cs_error err = {0};
    if (decode_file(f[1], 0, &full, &err) != CS_OK ||
        decode_file(f[1], atoi(f[2]), &reduced, &err) != CS_OK) {
        fprintf(stderr, "%s: decode failed: %s\n", f[1], err.message);
        check_failures++;
        image_decoded_free(&full);
        return;
    }
    int distance = phash_distance(image_phash(&full.image), image_phash(&reduced.image));
    printf("  scaled %s: %dx%d vs %dx%d, pHash distance %d\n", f[1], full.image.width,
           full.image.height, reduced.image.width, reduced.image.height, distance);
    if (distance > atoi(f[3])) {
        fprintf(stderr, "%s: reduced decode hashes %d bits away (max %s)\n", f[1], distance, f[3]);
        check_failures++;
    }
    CHECK(full.full_width == reduced.full_width && full.full_height == reduced.full_height);
    image_decoded_free(&full);
    image_decoded_free(&reduced);
}

static void check_nocrash(char **f)
{
    size_t len;
    uint8_t *data = load(f[1], &len);
    if (!data)
        return;
    cs_decoded d;
    cs_error err = {0};
    cs_status rc = image_decode(data, len, f[1], NULL, &d, &err);
    printf("  %-28s -> %s\n", f[1], rc == CS_OK ? (d.partial ? "decoded (partial)" : "decoded")
                                                : err.message);
    decode_must_not_crash(f[1], data, len);
    image_decoded_free(&d);
    free(data);
}

static void check_prefixes(char **f)
{
    size_t len;
    uint8_t *data = load(f[1], &len);
    if (!data)
        return;
    size_t step = strtoul(f[2], NULL, 10);
    for (size_t n = 0; n < len; n += step ? step : 1) {
        uint8_t *copy = malloc(n ? n : 1);   /* exact size, so ASan sees overreads */
        if (!copy)
            break;
        memcpy(copy, data, n);
        decode_must_not_crash(f[1], copy, n);
        free(copy);
    }
    free(data);
}

static void check_mutations(char **f)
{
    size_t len;
    uint8_t *data = load(f[1], &len);
    if (!data || len == 0) {
        free(data);
        return;
    }
    uint64_t rng = strtoull(f[3], NULL, 10);
    int count = atoi(f[2]);
    uint8_t *copy = malloc(len);
    for (int i = 0; copy && i < count; i++) {
        memcpy(copy, data, len);
        int flips = 1 + (int)(rng % 8);
        for (int k = 0; k < flips; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            copy[(rng >> 33) % len] = (uint8_t)(rng >> 24);
        }
        decode_must_not_crash(f[1], copy, len);
    }
    free(copy);
    free(data);
}

static int split(char *line, char **fields)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    char *p = line;
    while (n < MAX_FIELDS) {
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FIXTURE_DIR (with manifest.tsv)\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    char *manifest = path_of("manifest.tsv");
    FILE *fp = fopen(manifest, "r");
    if (!fp) {
        fprintf(stderr, "cannot open %s\n", manifest);
        return 2;
    }
    free(manifest);
    static const struct { const char *name; int fields; } commands[] = {
        {"decode", 11}, {"partial", 6}, {"fail", 3}, {"quads", 15}, {"exif", 8},
        {"phash", 4}, {"near", 5}, {"far", 4}, {"prefixes", 3}, {"mutate", 4},
        {"dexif", 8}, {"scaled", 4}, {"nocrash", 2},
    };
    char line[4096];
    int checks = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *f[MAX_FIELDS];
        int n = split(line, f);
        size_t c = 0;
        while (c < sizeof commands / sizeof commands[0] && strcmp(commands[c].name, f[0]) != 0)
            c++;
        if (c == sizeof commands / sizeof commands[0] || n != commands[c].fields) {
            fprintf(stderr, "bad manifest line: %s (%d fields)\n", f[0], n);
            return 2;
        }
        int before = check_failures;
        switch (c) {
        case 0: check_decode(f); break;
        case 1: check_partial(f); break;
        case 2: check_fail(f); break;
        case 3: check_quads(f); break;
        case 4: check_exif(f); break;
        case 5: check_phash(f); break;
        case 6: check_near_far(f, true); break;
        case 7: check_near_far(f, false); break;
        case 8: check_prefixes(f); break;
        case 9: check_mutations(f); break;
        case 10: check_decoded_exif(f); break;
        case 11: check_scaled(f); break;
        case 12: check_nocrash(f); break;
        }
        if (check_failures > before)
            fprintf(stderr, "  ^ in check: %s %s\n", f[0], f[1]);
        checks++;
    }
    fclose(fp);
    printf("%d checks run\n", checks);
    CHECK(checks > 0);
    CHECK_DONE();
}
