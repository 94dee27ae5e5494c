/* Date and shape words. EXIF times carry no zone, so cs_exif encodes the wall
 * clock as if it were UTC; gmtime_r gives the same fields back, which is why
 * no local-time conversion happens here. */
#include "caption/caption.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const month_names[12] = {
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
};

static const char *const weekday_names[7] = {
    "sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
};

/* Northern-hemisphere season of each month (0 = January). */
static const char *const north_seasons[12] = {
    "winter", "winter", "spring", "spring", "spring", "summer",
    "summer", "summer", "autumn", "autumn", "autumn", "winter",
};

static const char *time_of_day(int hour)
{
    if (hour >= 5 && hour < 12)
        return "morning";
    if (hour >= 12 && hour < 17)
        return "afternoon";
    if (hour >= 17 && hour < 21)
        return "evening";
    return "night";
}

static void clear_words(caption_date_words *out)
{
    out->year[0] = '\0';
    out->month = "";
    out->weekday = "";
    out->season = "";
    out->time_of_day = "";
    out->day = 0;
}

void caption_date_words_for(int64_t taken_at, bool southern, caption_date_words *out)
{
    clear_words(out);
    struct tm tm;
    time_t t = (time_t)taken_at;
    if ((int64_t)t != taken_at || !gmtime_r(&t, &tm))
        return;
    int year = tm.tm_year + 1900;
    /* Camera dates are four-digit years; anything else is a broken clock and
     * would not fit year[] anyway. */
    if (year < 1 || year > 9999)
        return;
    snprintf(out->year, sizeof out->year, "%d", year);
    out->month = month_names[tm.tm_mon];
    out->weekday = weekday_names[tm.tm_wday];
    /* The southern hemisphere is six months out of step. */
    out->season = north_seasons[southern ? (tm.tm_mon + 6) % 12 : tm.tm_mon];
    out->time_of_day = time_of_day(tm.tm_hour);
    out->day = tm.tm_mday;
}

const char *caption_shape_word(int width, int height)
{
    if (width <= 0 || height <= 0)
        return NULL;
    int64_t w = width, h = height;
    int64_t longer = w > h ? w : h, shorter = w > h ? h : w;
    if (longer >= 2 * shorter)
        return "panorama";
    /* Within 5% counts as square: a 1000x1030 crop is square to a person. */
    if (longer * 20 <= shorter * 21)
        return "square";
    return w > h ? "landscape" : "portrait";
}
