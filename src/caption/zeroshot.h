/* Zero-shot captions from CLIP: concept scores for an image, the confident
 * concepts, and candidate sentences that CLIP itself then ranks.
 *
 * Scores: logits = 100 · (image · concept), the image and the concept
 * embeddings L2-normalised (CLIP's logit scale), one GEMM for a batch;
 * probabilities = softmax over every concept of the vocabulary.
 *
 * The rule (zs_compose): a concept is kept when its probability is at
 * least ZS_MIN_PROB and at least ZS_REL_TO_BEST of the best of its kind,
 * within the first few of its kind (two objects; one scene, activity,
 * event, weather; one medium and one content among the picture kinds).
 * A concept that is a kind of an earlier pick, or the other way round
 * ("puppy" after "dog", "person" after "woman": WordNet's hypernyms), is
 * kept as a tag without taking a place (at most ZS_MAX_RESTATED of them),
 * and sentences never name it as a second thing. An indoor scene rules
 * out the weather. The kept concepts become tags.
 *
 * Sentences: subjects (the activity's "a person skiing", the first object
 * alone, as a plural and with the second, the picture's content "a
 * document") followed by a setting (scene, event, weather: "on a beach at
 * sunset"), or the scene alone ("a beach at sunset"); a medium other than
 * a photo goes in front ("a screenshot of a document"). Each candidate has
 * the prompt CLIP embeds ("a photo of a dog on a beach at sunset.") and the
 * sentence stored ("A dog on a beach at sunset."); zs_rank keeps the one
 * whose prompt is nearest the image.
 *
 * One probability for the whole vocabulary lets the main subject take most
 * of it, so a scene or time of day that is plainly there can fall short of
 * the threshold: without a scene (or weather) kept, the likeliest one still
 * makes a candidate with the first subject when it is not far behind
 * (ZS_UNSURE_LOGIT_GAP). It is no tag; the sentence holds it only when CLIP
 * ranks that candidate first. */
#ifndef CS_CAPTION_ZEROSHOT_H
#define CS_CAPTION_ZEROSHOT_H

#include <stddef.h>

#include "caption/concepts.h"

/* Changes with anything in the rules, the sentences or the vocabulary
 * that changes what a caption says: an index run makes captions of other
 * versions again, from the stored embeddings. 2: related concepts, people
 * words, unsure settings. */
#define ZS_RULES_VERSION "2"

#define ZS_LOGIT_SCALE 100.0f
/* Not calibrated on real CLIP weights yet (none are available here): with
 * several thousand concepts a picture's clear subject takes a good part of
 * the probability, its near-synonyms share the rest. */
#define ZS_MIN_PROB 0.05f
#define ZS_REL_TO_BEST 0.25f
#define ZS_MAX_PICKS 8
#define ZS_MAX_RESTATED 2   /* picks that name an earlier pick again ("puppy") */
#define ZS_MAX_CANDIDATES 10
/* An unsure scene or weather still makes a candidate when its logit is
 * within this of the best concept's (probability at least e^-4 = 1.8% of
 * the best's); CLIP's ranking of the candidates decides. */
#define ZS_UNSURE_LOGIT_GAP 4.0f
#define ZS_TOP 10
#define ZS_TEXT_MAX 192

/* out[n x m] = scale · images[n x dim] · concepts[m x dim]ᵀ (cblas_sgemm). */
void zs_logits(const float *images, size_t n, const float *concepts, size_t m, int dim,
               float scale, float *out);
/* In place: row[i] = exp(row[i] - max) / Σ exp(row[j] - max). */
void zs_softmax(float *row, size_t m);

typedef struct zs_pick {
    size_t concept;          /* index in the vocabulary */
    float prob;
} zs_pick;

typedef struct zs_candidate {
    char prompt[ZS_TEXT_MAX];    /* what CLIP embeds */
    char sentence[ZS_TEXT_MAX];  /* what the caption says */
    float score;                 /* cosine with the image (zs_rank) */
} zs_candidate;

typedef struct zs_caption {
    zs_pick picks[ZS_MAX_PICKS];     /* the confident concepts, best first */
    int npicks;
    zs_pick top[ZS_TOP];             /* the highest probabilities, kept or not */
    int ntop;
    zs_candidate candidates[ZS_MAX_CANDIDATES];
    int ncandidates;
    int best;                        /* the chosen candidate, -1 before zs_rank
                                        or when there is none */
} zs_caption;

typedef struct zs_rule {
    float min_prob;          /* ZS_MIN_PROB */
    float rel_to_best;       /* ZS_REL_TO_BEST */
} zs_rule;

/* The defaults; $CAPSEARCH_ZEROSHOT_MIN_PROB (a number in (0, 1)) replaces
 * min_prob, for calibrating the rule on real weights and for tests with
 * random-weight models, whose probabilities are all alike. */
zs_rule zs_rule_default(void);

/* Picks the confident concepts of one image from its probabilities (one
 * per vocabulary concept) and composes the candidate sentences. */
void zs_compose(const concept_vocab *v, const float *probs, const zs_rule *rule,
                zs_caption *out);

/* Scores each candidate by the cosine of its prompt's embedding
 * (prompts[i * dim], L2-normalised) with the image's; best = the highest. */
void zs_rank(zs_caption *c, const float *image, const float *prompts, int dim);

/* The chosen sentence, "" when none. */
const char *zs_sentence(const zs_caption *c);

#endif
