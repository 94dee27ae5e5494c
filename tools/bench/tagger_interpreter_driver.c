/* The interpreter side of tools/bench/tagger_interpreter: loads a graph
 * model once, starts one thread per session (each with its own session, one
 * OpenBLAS thread each), runs images through all of them at once and prints
 * images/s as JSON.
 *
 *   tagger_interpreter_bench MODEL.json INPUT.f32 D0,D1,.. THREADS IMAGES
 *
 * INPUT.f32 holds one input of shape D0,D1,..; IMAGES is the total, split
 * over the threads; one warm-up run per thread is not counted. With
 * TFJS_PROFILE set, the first thread prints where its time went. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/fsutil.h"
#include "models/tagger/tfjs.h"
#include "nn/nn.h"

typedef struct job {
    const tfjs_model *model;
    tfjs_shape shape;
    const float *input;
    int images;
    pthread_barrier_t *start;
    bool profile;
    cs_status rc;
    cs_error err;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    tfjs_session *s = NULL;
    j->rc = tfjs_session_new(j->model, &j->shape, &s, &j->err);
    if (j->rc == CS_OK)
        j->rc = tfjs_session_run(s, j->input, &j->err);   /* warm-up */
    if (j->profile && s)
        tfjs_session_profile(s, true);
    pthread_barrier_wait(j->start);
    for (int i = 0; i < j->images && j->rc == CS_OK; i++)
        j->rc = tfjs_session_run(s, j->input, &j->err);
    if (j->profile && j->rc == CS_OK)
        tfjs_session_profile_print(s, stderr);
    tfjs_session_free(s);
    return NULL;
}

/* CPU time of the whole process (all threads): less sensitive than wall
 * time to other programs sharing the machine. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
    cs_blas_restart_if_generic(argv);   /* OpenBLAS's fast kernels (capsearch.h) */
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODEL.json INPUT.f32 D0,D1,.. THREADS IMAGES\n", argv[0]);
        return 2;
    }
    tfjs_shape shape = {0, {0}};
    for (char *p = argv[3]; *p && shape.rank < TFJS_MAX_RANK; p++) {
        shape.dims[shape.rank++] = strtoll(p, &p, 10);
        if (*p != ',')
            break;
    }
    int threads = atoi(argv[4]), images = atoi(argv[5]);
    if (threads < 1 || images < threads) {
        fprintf(stderr, "need THREADS >= 1 and IMAGES >= THREADS\n");
        return 2;
    }
    nn_set_blas_threads(1);
    cs_error err = {0};
    uint8_t *input = NULL;
    size_t len = 0;
    tfjs_model *model = NULL;
    if (fs_read_file(argv[2], (uint64_t)1 << 30, &input, &len, &err) != CS_OK ||
        tfjs_model_load(argv[1], &model, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        free(input);
        return 1;
    }
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){model, shape, (const float *)input, images / threads + (t < images % threads),
                        &start, t == 0 && getenv("TFJS_PROFILE"), CS_OK, {0}};
        pthread_create(&tids[t], NULL, worker, &jobs[t]);
    }
    pthread_barrier_wait(&start);
    double t0 = fs_now_seconds(), cpu0 = cpu_seconds();
    for (int t = 0; t < threads; t++)
        pthread_join(tids[t], NULL);
    double secs = fs_now_seconds() - t0, cpu = cpu_seconds() - cpu0;
    int rc = 0;
    for (int t = 0; t < threads; t++)
        if (jobs[t].rc != CS_OK) {
            fprintf(stderr, "%s\n", jobs[t].err.message);
            rc = 1;
        }
    if (rc == 0)
        printf("{\"images\": %d, \"threads\": %d, \"seconds\": %.4f, \"images_per_s\": %.3f, "
               "\"cpu_ms_per_image\": %.2f}\n",
               images, threads, secs, images / secs, cpu * 1e3 / images);
    pthread_barrier_destroy(&start);
    free(jobs);
    free(tids);
    free(input);
    tfjs_model_free(model);
    return rc;
}
