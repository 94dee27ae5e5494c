/* Colour science: sRGB to CIE L*a*b* (D65), CIEDE2000 colour difference,
 * and naming a colour from a small palette of everyday names. */
#include <math.h>

#include "image/image.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static double srgb_to_linear(uint8_t v)
{
    double c = v / 255.0;   /* IEC 61966-2-1 transfer function */
    return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

static double lab_f(double t)
{
    const double delta = 6.0 / 29.0;
    return t > delta * delta * delta ? cbrt(t) : t / (3 * delta * delta) + 4.0 / 29.0;
}

void color_srgb_to_lab(uint8_t r, uint8_t g, uint8_t b, float lab[3])
{
    double lr = srgb_to_linear(r), lg = srgb_to_linear(g), lb = srgb_to_linear(b);
    /* sRGB primaries to XYZ, then normalised by the D65 white point. */
    double x = (0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb) / 0.95047;
    double y = (0.2126729 * lr + 0.7151522 * lg + 0.0721750 * lb) / 1.00000;
    double z = (0.0193339 * lr + 0.1191920 * lg + 0.9503041 * lb) / 1.08883;
    double fx = lab_f(x), fy = lab_f(y), fz = lab_f(z);
    lab[0] = (float)(116 * fy - 16);
    lab[1] = (float)(500 * (fx - fy));
    lab[2] = (float)(200 * (fy - fz));
}

static double degrees(double radians) { return radians * 180.0 / M_PI; }
static double radians(double degrees) { return degrees * M_PI / 180.0; }

/* CIEDE2000 as written in Sharma, Wu and Dalal (2005), kL = kC = kH = 1. */
float color_delta_e(const float lab1[3], const float lab2[3])
{
    double L1 = lab1[0], a1 = lab1[1], b1 = lab1[2];
    double L2 = lab2[0], a2 = lab2[1], b2 = lab2[2];
    double C1 = hypot(a1, b1), C2 = hypot(a2, b2);
    double Cbar7 = pow((C1 + C2) / 2, 7);
    double G = 0.5 * (1 - sqrt(Cbar7 / (Cbar7 + pow(25, 7))));
    double a1p = (1 + G) * a1, a2p = (1 + G) * a2;
    double C1p = hypot(a1p, b1), C2p = hypot(a2p, b2);
    double h1p = C1p == 0 ? 0 : fmod(degrees(atan2(b1, a1p)) + 360, 360);
    double h2p = C2p == 0 ? 0 : fmod(degrees(atan2(b2, a2p)) + 360, 360);

    double dL = L2 - L1, dC = C2p - C1p, dh = 0;
    if (C1p * C2p != 0) {
        dh = h2p - h1p;
        if (dh > 180)
            dh -= 360;
        else if (dh < -180)
            dh += 360;
    }
    double dH = 2 * sqrt(C1p * C2p) * sin(radians(dh / 2));

    double Lbar = (L1 + L2) / 2, Cbarp = (C1p + C2p) / 2, hbar = h1p + h2p;
    if (C1p * C2p != 0) {
        if (fabs(h1p - h2p) <= 180)
            hbar = (h1p + h2p) / 2;
        else
            hbar = h1p + h2p < 360 ? (h1p + h2p + 360) / 2 : (h1p + h2p - 360) / 2;
    }
    double T = 1 - 0.17 * cos(radians(hbar - 30)) + 0.24 * cos(radians(2 * hbar)) +
               0.32 * cos(radians(3 * hbar + 6)) - 0.20 * cos(radians(4 * hbar - 63));
    double dtheta = 30 * exp(-pow((hbar - 275) / 25, 2));
    double Cbarp7 = pow(Cbarp, 7);
    double Rc = 2 * sqrt(Cbarp7 / (Cbarp7 + pow(25, 7)));
    double Lm = (Lbar - 50) * (Lbar - 50);
    double Sl = 1 + 0.015 * Lm / sqrt(20 + Lm);
    double Sc = 1 + 0.045 * Cbarp;
    double Sh = 1 + 0.015 * Cbarp * T;
    double Rt = -sin(radians(2 * dtheta)) * Rc;
    double l = dL / Sl, c = dC / Sc, h = dH / Sh;
    return (float)sqrt(l * l + c * c + h * h + Rt * c * h);
}

/* Everyday names, each with a few typical shades (sRGB, for readability)
 * so that light, dark and saturated variants land on the name a person
 * would use. Tuned on ~100 common named colours. */
typedef struct palette_anchor {
    const char *name;
    uint8_t rgb[3];
} palette_anchor;

static const palette_anchor palette[] = {
    {"black", {0, 0, 0}},       {"black", {28, 28, 28}},
    {"gray", {128, 128, 128}},  {"gray", {85, 85, 85}},      {"gray", {190, 190, 190}},
    {"white", {255, 255, 255}}, {"white", {235, 235, 235}},
    {"red", {220, 20, 30}},     {"red", {255, 40, 40}},      {"red", {190, 30, 40}},
    {"maroon", {128, 0, 0}},    {"maroon", {100, 20, 30}},
    {"orange", {255, 140, 0}},  {"orange", {255, 165, 0}},   {"orange", {240, 120, 40}},
    {"brown", {139, 69, 19}},   {"brown", {101, 67, 33}},    {"brown", {150, 100, 60}},
    {"brown", {185, 120, 65}},  {"brown", {70, 45, 30}},
    {"beige", {245, 245, 220}}, {"beige", {222, 200, 160}},  {"beige", {210, 180, 140}},
    {"yellow", {255, 255, 0}},  {"yellow", {245, 220, 50}},  {"yellow", {255, 240, 120}},
    {"yellow", {225, 180, 40}},
    {"olive", {128, 128, 0}},   {"olive", {107, 142, 35}},   {"olive", {85, 90, 40}},
    {"green", {0, 128, 0}},     {"green", {34, 139, 34}},    {"green", {50, 205, 50}},
    {"green", {0, 90, 30}},     {"green", {140, 200, 100}},  {"green", {110, 160, 70}},
    {"teal", {0, 128, 128}},    {"teal", {64, 224, 208}},    {"teal", {0, 170, 170}},
    {"blue", {0, 0, 255}},      {"blue", {30, 144, 255}},    {"blue", {65, 105, 225}},
    {"blue", {135, 206, 235}},  {"blue", {70, 130, 180}},
    {"navy", {0, 0, 128}},      {"navy", {25, 35, 80}},
    {"purple", {128, 0, 128}},  {"purple", {148, 0, 211}},   {"purple", {150, 110, 190}},
    {"purple", {90, 40, 120}},  {"purple", {200, 120, 210}},
    {"pink", {255, 192, 203}},  {"pink", {255, 105, 180}},   {"pink", {230, 60, 140}},
    {"pink", {250, 160, 170}},
};

const char *color_name_for_lab(const float lab[3])
{
    const char *best = palette[0].name;
    float best_distance = INFINITY;
    for (size_t i = 0; i < sizeof palette / sizeof palette[0]; i++) {
        float anchor[3];
        color_srgb_to_lab(palette[i].rgb[0], palette[i].rgb[1], palette[i].rgb[2], anchor);
        float d = color_delta_e(lab, anchor);
        if (d < best_distance) {
            best_distance = d;
            best = palette[i].name;
        }
    }
    return best;
}
