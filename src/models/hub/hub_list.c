/* cs_model_list_read: the models in the models folder. CLIP folders are
 * OWNER/NAME/ (as pulled) or a folder of their own; the tagger's are
 * human-models-*; NAME.partial/ and FILE.part are unfinished pulls. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/array.h"
#include "common/fsutil.h"
#include "common/strbuf.h"
#include "models/clip/config.h"
#include "models/hub/hub.h"

#define TAGGER_PREFIX "human-models-"

typedef struct builder {
    cs_model_list *list;
    size_t cap;
} builder;

static bool has_file(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    cs_error ignored;
    return hub_join(path, sizeof path, dir, name, &ignored) == CS_OK && stat(path, &st) == 0 &&
           S_ISREG(st.st_mode);
}

static bool is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static cs_model_entry *add(builder *b, const char *name, const char *path, const char *kind,
                           cs_error *err)
{
    cs_model_list *list = b->list;
    if (!ARRAY_RESERVE(list->items, b->cap, list->count)) {
        cs_error_set(err, CS_ERR_NOMEM, "out of memory listing models");
        return NULL;
    }
    cs_model_entry *e = &list->items[list->count];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    e->path = strdup(path);
    if (!e->name || !e->path) {
        free(e->name);
        free(e->path);
        cs_error_set(err, CS_ERR_NOMEM, "out of memory listing models");
        return NULL;
    }
    e->kind = kind;
    e->bytes = fs_tree_bytes(path);
    list->count++;
    return e;
}

/* Adds a problem to an entry's ("; " between them). */
static cs_status add_problem(cs_model_entry *e, const char *problem, cs_error *err)
{
    strbuf sb;
    strbuf_init(&sb);
    if (e->problem) {
        strbuf_append(&sb, e->problem);
        strbuf_append(&sb, "; ");
    }
    strbuf_append(&sb, problem);
    char *text = strbuf_take(&sb);
    if (!text)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory listing models");
    free(e->problem);
    e->problem = text;
    return CS_OK;
}

/* What a CLIP folder lacks, its .part files, and its config's sizes. */
static cs_status examine_clip(cs_model_entry *e, cs_error *err)
{
    strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0; i < hub_known_count; i++)
        if (hub_known_files[i].required && !has_file(e->path, hub_known_files[i].path))
            strbuf_appendf(&sb, "%s%s", sb.len ? ", " : "missing ", hub_known_files[i].path);
    char **names = NULL;
    size_t count = 0;
    cs_error ignored;
    if (fs_list_folder(e->path, &names, &count, &ignored) == CS_OK)
        for (size_t i = 0; i < count; i++)
            if (hub_ends_with(names[i], HUB_PART_SUFFIX))
                strbuf_appendf(&sb, "%san unfinished download (%s)", sb.len ? "; " : "", names[i]);
    fs_free_names(names, count);
    clip_config config;
    cs_error why;
    if (has_file(e->path, "config.json")) {
        if (clip_config_load(e->path, &config, &why) == CS_OK) {
            e->dim = config.projection_dim;
            e->image_size = config.vision.image_size;
        } else {
            strbuf_appendf(&sb, "%s%s", sb.len ? "; " : "", why.message);
        }
    }
    if (strbuf_failed(&sb)) {
        strbuf_free(&sb);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory listing models");
    }
    e->complete = sb.len == 0;
    cs_status rc = sb.len ? add_problem(e, strbuf_str(&sb), err) : CS_OK;
    strbuf_free(&sb);
    return rc;
}

static bool is_clip_folder(const char *path)
{
    return has_file(path, "config.json") || has_file(path, "model.safetensors");
}

static cs_model_entry *find(const cs_model_list *list, const char *name)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].name, name) == 0)
            return &list->items[i];
    return NULL;
}

/* NAME.partial/: a pull that did not finish. */
static cs_status add_partial(builder *b, const char *name, const char *path, cs_error *err)
{
    char message[512];
    cs_model_entry *e = find(b->list, name);
    if (e) {
        snprintf(message, sizeof message,
                 "an unfinished pull left %s%s: 'capsearch models pull %s' finishes it", name,
                 HUB_PARTIAL_SUFFIX, name);
        return add_problem(e, message, err);
    }
    if (!(e = add(b, name, path, "clip", err)))
        return err->code;
    cs_status rc = examine_clip(e, err);   /* for the sizes: what it lacks goes without saying */
    e->complete = 0;
    free(e->problem);
    e->problem = NULL;
    snprintf(message, sizeof message, "an unfinished pull: 'capsearch models pull %s' finishes it",
             name);
    return rc == CS_OK ? add_problem(e, message, err) : rc;
}

/* One OWNER/ folder: its models, in name order (NAME before NAME.partial). */
static cs_status read_owner(builder *b, const char *owner, const char *dir, cs_error *err)
{
    char **names = NULL;
    size_t count = 0;
    cs_error ignored;
    if (fs_list_folder(dir, &names, &count, &ignored) != CS_OK)
        return CS_OK;
    cs_status rc = CS_OK;
    for (size_t i = 0; rc == CS_OK && i < count; i++) {
        char path[4096], name[1024];
        if (hub_join(path, sizeof path, dir, names[i], &ignored) != CS_OK || !is_folder(path) ||
            hub_join(name, sizeof name, owner, names[i], &ignored) != CS_OK)
            continue;
        if (hub_ends_with(name, HUB_PARTIAL_SUFFIX)) {
            name[strlen(name) - strlen(HUB_PARTIAL_SUFFIX)] = '\0';
            rc = add_partial(b, name, path, err);
        } else if (is_clip_folder(path)) {
            cs_model_entry *e = add(b, name, path, "clip", err);
            rc = e ? examine_clip(e, err) : err->code;
        }
    }
    fs_free_names(names, count);
    return rc;
}

static cs_status read_root(builder *b, const char *root, cs_error *err)
{
    char **names = NULL;
    size_t count = 0;
    cs_status rc = fs_list_folder(root, &names, &count, err);
    if (rc != CS_OK)
        return rc == CS_ERR_NOT_FOUND ? CS_OK : rc;   /* nothing pulled yet */
    for (size_t i = 0; rc == CS_OK && i < count; i++) {
        char path[4096];
        cs_error ignored;
        if (hub_join(path, sizeof path, root, names[i], &ignored) != CS_OK || !is_folder(path))
            continue;
        if (strncmp(names[i], TAGGER_PREFIX, strlen(TAGGER_PREFIX)) == 0) {
            /* tools/fetch-models.sh writes .complete last */
            cs_model_entry *e = add(b, names[i], path, "tagger", err);
            if (!e)
                rc = err->code;
            else if (!(e->complete = has_file(path, ".complete")))
                rc = add_problem(e, "unfinished: run tools/fetch-models.sh again", err);
        } else if (is_clip_folder(path)) {
            cs_model_entry *e = add(b, names[i], path, "clip", err);
            rc = e ? examine_clip(e, err) : err->code;
        } else {
            rc = read_owner(b, names[i], path, err);
        }
    }
    fs_free_names(names, count);
    return rc;
}

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const cs_model_entry *)a)->name, ((const cs_model_entry *)b)->name);
}

cs_status cs_model_list_read(const char *models_dir, cs_model_list **out, cs_error *err)
{
    *out = NULL;
    char root[4096];
    cs_status rc = hub_models_dir(&models_dir, root, sizeof root, err);
    if (rc != CS_OK)
        return rc;
    cs_model_list *list = calloc(1, sizeof *list);
    if (!list || !(list->dir = strdup(models_dir))) {
        free(list);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory listing models");
    }
    builder b = {list, 0};
    rc = read_root(&b, models_dir, err);
    if (rc != CS_OK) {
        cs_model_list_free(list);
        return rc;
    }
    if (list->count)
        qsort(list->items, list->count, sizeof *list->items, compare_entries);
    *out = list;
    return CS_OK;
}

void cs_model_list_free(cs_model_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].path);
        free(list->items[i].problem);
    }
    free(list->items);
    free(list->dir);
    free(list);
}
