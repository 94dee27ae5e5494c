/* Calendar dates as the catalog stores times: wall-clock seconds encoded
 * like UTC (timegm), because EXIF times carry no zone. */
#ifndef CS_COMMON_DATES_H
#define CS_COMMON_DATES_H

#include <stdbool.h>
#include <stdint.h>

/* Parses "YYYY-MM-DD" (a real calendar day, years 1..9999) into the first
 * second of that day, or with end_of_day its last second. */
bool dates_parse_day(const char *text, bool end_of_day, int64_t *out);

#endif
