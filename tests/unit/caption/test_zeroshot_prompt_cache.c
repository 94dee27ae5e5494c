/* The zero-shot model's cache of candidate-prompt embeddings stays under
 * its bound: with a bound of a few calls, a run of captions starts the
 * cache afresh again and again, and every candidate's score still equals
 * the cosine of the image with its own prompt's embedding (prompts recur,
 * before and after each flush), computed here
 * straight from the text tower. usage: test_zeroshot_prompt_cache MODEL_DIR
 * (a tiny model from tools/gen-test-clip; WordNet installed). */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "indexer/zeroshot_model.h"

#define PICTURES 60

/* An "image" pointing at concept c mixed with a little of concept c+1:
 * that concept wins the softmax, so the picture gets candidates. */
static void image_of(const zs_model *m, size_t c, float *out)
{
    double sum = 0;
    for (int k = 0; k < m->dim; k++) {
        out[k] = m->concepts[c * (size_t)m->dim + (size_t)k] +
                 0.2f * m->concepts[((c + 1) % m->vocab.n) * (size_t)m->dim + (size_t)k];
        sum += (double)out[k] * out[k];
    }
    for (int k = 0; k < m->dim; k++)
        out[k] = (float)(out[k] / sqrt(sum));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL_DIR\n", argv[0]);
        return 2;
    }
    /* random weights give flat probabilities: let the rule keep the winner */
    setenv("CAPSEARCH_ZEROSHOT_MIN_PROB", "0.001", 1);
    cs_error err = {0};
    cs_clip_model *clip = NULL;
    CHECK_OK(cs_clip_open(argv[1], &clip, &err), &err);
    if (!clip)
        CHECK_DONE();
    zs_model m;
    cs_status rc = zs_model_load(&m, NULL, clip, "test-model", NULL, NULL, NULL, &err);
    if (rc == CS_ERR_NOT_FOUND || rc == CS_ERR_UNSUPPORTED) {
        fprintf(stderr, "skipped: %s\n", err.message);   /* no WordNet in this build */
        cs_clip_close(clip);
        return 77;
    }
    CHECK_OK(rc, &err);
    CHECK_INT_EQ(m.prompt_cache_max, ZS_PROMPT_CACHE_MAX);
    m.prompt_cache_max = 2 * ZS_MAX_CANDIDATES;   /* a flush every few pictures */

    int dim = m.dim;
    float *image = malloc((size_t)dim * sizeof *image);
    float *prompt = malloc((size_t)dim * sizeof *prompt);
    CHECK(image && prompt);
    size_t flushes = 0, candidates = 0, before = 0;
    for (size_t i = 0; image && prompt && i < PICTURES; i++) {
        /* 12 subjects in turn: prompts recur across the flushes */
        image_of(&m, ((i * 5) % 12) * 397 % m.vocab.n, image);
        zs_caption cap;
        CHECK_OK(zs_model_caption(&m, clip, image, 1, &cap, NULL, &err), &err);
        CHECK(m.nprompts <= m.prompt_cache_max);
        flushes += m.nprompts < before;
        before = m.nprompts;
        for (int j = 0; j < cap.ncandidates; j++, candidates++) {
            const char *text = cap.candidates[j].prompt;
            CHECK_OK(cs_clip_embed_texts(clip, &text, 1, prompt, &err), &err);
            double dot = 0;
            for (int k = 0; k < dim; k++)
                dot += (double)image[k] * prompt[k];
            if (fabs(dot - cap.candidates[j].score) > 1e-5) {
                fprintf(stderr, "picture %zu, '%s': score %g, its prompt's cosine %g\n", i,
                        text, cap.candidates[j].score, dot);
                check_failures++;
            }
        }
    }
    fprintf(stderr, "%zu candidates, %zu flushes of the prompt cache\n", candidates, flushes);
    CHECK(candidates >= PICTURES);   /* the pictures did get candidates */
    CHECK(flushes >= 3);             /* and the bound was reached */
    free(image);
    free(prompt);
    zs_model_free(&m);
    cs_clip_close(clip);
    CHECK_DONE();
}
