/*
 * caption.h — the Ideogram 4 structured caption: classification of a prompt
 * (docs/APP.md §2.1) and the vendor caption verifier's checks (docs/APP.md §8.5).
 *
 * The verifier reproduces the rules, check order and message texts of the
 * official caption_verifier.py (CaptionVerifier.verify_raw): every problem is
 * one string "<json path>: <message>", values rendered the way Python prints
 * them (['a', 'b'], ('a', 'b'), dict/list/str/int/float/bool/NoneType). An
 * empty list means the caption is valid. All findings are warnings in the
 * upstream sense; whether they block anything is the caller's decision.
 */
#ifndef I4_CAPTION_H
#define I4_CAPTION_H

/* The verifier's entry points (i4_caption_verify, i4_caption_verify_json,
 * i4_caption_issues_free) and the prompt classification (i4_caption_kind,
 * i4_caption_kind_warning) are public: ideogram4.h declares them. Notes on
 * their behaviour that the public comments leave out:
 *  - i4_caption_verify runs the raw-text ensure_ascii warning first, then
 *    "invalid JSON: <parser message> (line L, column C)" (the last item,
 *    not_json = 1) or the schema checks.
 *  - Duplicate object keys behave like Python's json.loads: the last value
 *    wins and the key keeps the position of its first occurrence.
 *  - Kind warnings (docs/APP.md §2.1): "Not JSON — Ideogram 4 needs structured
 *    captions for quality" / "JSON is not a dict, treating as plain text
 *    (low quality)". */
#include "ideogram4.h"

#endif
