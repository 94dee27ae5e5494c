/* Model names ("owner/name") and the folders they are kept in. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "models/hub/hub.h"

/* The Hub's own limit for each part of a name. */
#define NAME_PART_MAX 96

cs_status hub_join(char *out, size_t size, const char *a, const char *b, cs_error *err)
{
    int n = snprintf(out, size, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= size)
        return cs_error_set(err, CS_ERR_INVALID, "path too long: %s/%s", a, b);
    return CS_OK;
}

bool hub_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

cs_status cs_models_root(char *out, size_t size, cs_error *err)
{
    /* cs_default_models_dir is this folder plus the tagger's subfolder. */
    cs_status rc = cs_default_models_dir(out, size, err);
    if (rc != CS_OK)
        return rc;
    char *slash = strrchr(out, '/');
    if (!slash || slash == out)
        return cs_error_set(err, CS_ERR_INVALID, "no models folder: set CAPSEARCH_MODELS");
    *slash = '\0';
    return CS_OK;
}

cs_status hub_models_dir(const char **dir, char *buf, size_t size, cs_error *err)
{
    if (*dir)
        return CS_OK;
    cs_status rc = cs_models_root(buf, size, err);
    if (rc == CS_OK)
        *dir = buf;
    return rc;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

/* Checks one part of a name (len bytes at s); NULL when it is fine, else why not. */
static const char *part_problem(const char *s, size_t len)
{
    if (len == 0)
        return "the owner or the name is empty";
    if (len > NAME_PART_MAX)
        return "the owner or the name is longer than 96 characters";
    for (size_t i = 0; i < len; i++)
        if (!name_char(s[i]))
            return "only letters, digits, '.', '_' and '-' are allowed";
    if (s[0] == '.')
        return "the owner or the name starts with '.'";
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '.' && s[i + 1] == '.')
            return "it contains '..'";
    size_t suffix = strlen(HUB_PARTIAL_SUFFIX);
    if (len >= suffix && memcmp(s + len - suffix, HUB_PARTIAL_SUFFIX, suffix) == 0)
        return "it ends in '" HUB_PARTIAL_SUFFIX "', the suffix of unfinished pulls";
    return NULL;
}

cs_status cs_model_folder(const char *models_dir, const char *name, char *out, size_t size,
                          cs_error *err)
{
    const char *slash = name ? strchr(name, '/') : NULL;
    const char *problem = NULL;
    if (!name || !*name)
        problem = "it is empty";
    else if (!slash || strchr(slash + 1, '/'))
        problem = "it must be exactly OWNER/NAME, with one '/'";
    else if (!(problem = part_problem(name, (size_t)(slash - name))))
        problem = part_problem(slash + 1, strlen(slash + 1));
    if (problem)
        return cs_error_set(err, CS_ERR_INVALID,
                            "invalid model name '%s': %s (e.g. openai/clip-vit-base-patch32)",
                            name ? name : "", problem);
    char root[4096];
    cs_status rc = hub_models_dir(&models_dir, root, sizeof root, err);
    if (rc != CS_OK)
        return rc;
    return hub_join(out, size, models_dir, name, err);
}

cs_status hub_check_revision(const char *revision, cs_error *err)
{
    size_t len = strlen(revision);
    bool ok = len > 0 && len <= 128 && revision[0] != '.' && !strstr(revision, "..");
    for (size_t i = 0; ok && i < len; i++)
        ok = name_char(revision[i]);
    if (!ok)
        return cs_error_set(err, CS_ERR_INVALID,
                            "invalid revision '%s': give a branch, tag or commit of up to 128 "
                            "letters, digits, '.', '_' and '-'", revision);
    return CS_OK;
}
