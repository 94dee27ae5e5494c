/* Filling the concepts' WordNet hypernyms (concepts_set_lineage and
 * concepts_related are in concepts.h). */
#ifndef CS_CAPTION_CONCEPT_LINEAGE_H
#define CS_CAPTION_CONCEPT_LINEAGE_H

#include "caption/concepts.h"
#include "common/error.h"

#if CAPSEARCH_HAVE_WORDNET
/* Every concept's hypernyms from WordNet: a walked concept's synset is the
 * one its group reached, a literal row's its word's first sense. The caller
 * holds libWN's lock. CS_ERR_NOMEM on allocation failure. */
cs_status concepts_fill_lineage(concept_vocab *v);
#endif

#endif
