#!/usr/bin/env bash
# CLI tests for `ideogram4 verify FILE|-`: exit codes (0 valid or plain text,
# 1 problems, 2 usage/unreadable) and output on the shipped examples, stdin,
# broken captions and plain text.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
BIN=${I4_BIN:-build/ideogram4}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run_is WANT_RC WANT_STDOUT command... : exact exit code and exact stdout.
run_is() {
  local want_rc=$1 want_out=$2; shift 2
  local out rc
  out=$("$@" 2>"$tmp/stderr"); rc=$?
  if [ "$rc" != "$want_rc" ] || [ "$out" != "$want_out" ]; then
    echo "  rc=$rc (want $want_rc)"; echo "  stdout: $out"; echo "  want:   $want_out"; sed 's/^/  stderr: /' "$tmp/stderr"
    return 1
  fi
}
# fails_with WANT_RC SUBSTRING command... : exit code and a substring of stdout+stderr.
fails_with() {
  local want_rc=$1 want=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  [ "$rc" = "$want_rc" ] && grep -qF -- "$want" <<<"$out" || { echo "  rc=$rc got: $out"; return 1; }
}

NEITHER="style_description: expected one of 'photo' (for photo captions) or 'art_style' (for non-photo captions)"

check "verify examples/caption.json is ok" run_is 0 ok "$BIN" verify examples/caption.json
check "verify examples/poster.json is ok" run_is 0 ok "$BIN" verify examples/poster.json
check "verify examples/hanok_ko.json is ok" run_is 0 ok "$BIN" verify examples/hanok_ko.json
check "verify examples/folk_art_ko.json warns (no photo/art_style)" \
  run_is 1 "$NEITHER" "$BIN" verify examples/folk_art_ko.json
check "verify - reads stdin (valid)" bash -c "'$BIN' verify - < examples/poster.json | grep -qx ok"
check "verify - reads stdin (warning)" \
  bash -c "out=\$('$BIN' verify - < examples/folk_art_ko.json); [ \$? -eq 1 ] && [ \"\$out\" = \"$NEITHER\" ]"

# Several problems: one line each, starting with the JSON path, in verifier order.
cat > "$tmp/bad.json" <<'EOF'
{"high_level_description": 3,
 "style_description": {"aesthetics": "a", "lighting": "l", "medium": "photograph", "photo": "85mm",
                       "color_palette": ["#ffffff"]},
 "compositional_deconstruction": {"background": "b", "elements": [
   {"type": "text", "text": "HELLO", "bbox": [10, 20, 5, 1200], "desc": "d"},
   {"type": "shape", "desc": "d"}]}}
EOF
want_bad="high_level_description: expected a string, got int
style_description: key order is ('aesthetics', 'lighting', 'medium', 'photo', 'color_palette'), expected ('aesthetics', 'lighting', 'photo', 'medium', 'color_palette')
style_description.color_palette[0]: '#ffffff' is not a valid #RRGGBB hex color
elements[0]: key order is ('type', 'text', 'bbox', 'desc'), expected ('type', 'bbox', 'text', 'desc')
elements[0].bbox: values must be in [0, 1000], got [10, 20, 5, 1200]
elements[0].bbox: ymin (10) > ymax (5)
elements[1]: 'type' must be one of {'obj', 'text'}"
check "verify reports every problem with its path" run_is 1 "$want_bad" "$BIN" verify "$tmp/bad.json"
check "verify - reports problems from stdin" run_is 1 "$want_bad" bash -c "'$BIN' verify - < '$tmp/bad.json'"

printf '{"compositional_deconstruction": {"background": "b",' > "$tmp/broken.json"
check "verify: broken JSON is an error" fails_with 1 "invalid JSON: " "$BIN" verify "$tmp/broken.json"
printf '[1, 2]' > "$tmp/list.json"
check "verify: JSON list is an error" \
  run_is 1 "root: expected a JSON object (dict), got list" "$BIN" verify "$tmp/list.json"
printf '{"high_level_description": "caf\\u00e9", "compositional_deconstruction": {"background": "b", "elements": []}}' \
  > "$tmp/ascii.json"
check "verify: ensure_ascii escapes warn" fails_with 1 "raw text: found 1 non-ASCII unicode escape(s) (e.g. \\u00e9)" \
  "$BIN" verify "$tmp/ascii.json"

check "verify: plain text is accepted with a warning" \
  run_is 0 "warning: Not JSON — Ideogram 4 needs structured captions for quality (plain-text prompts are accepted with a warning)" \
  bash -c "echo 'A red bicycle leaning on a lamp post' | '$BIN' verify -"
check "verify: empty input is an error" fails_with 1 "invalid JSON: " bash -c "'$BIN' verify - < /dev/null"

check "verify: missing argument is a usage error" fails_with 2 "usage: ideogram4 verify" "$BIN" verify
check "verify: two files is a usage error" fails_with 2 "unexpected argument" "$BIN" verify a.json b.json
check "verify: unknown option is a usage error" fails_with 2 "unknown option" "$BIN" verify --strict a.json
check "verify: missing file" fails_with 2 "cannot open" "$BIN" verify "$tmp/nope.json"
check "verify: --help" fails_with 0 "usage: ideogram4 verify" "$BIN" verify --help
check "help lists verify" bash -c "'$BIN' help | grep -q 'verify FILE|-'"
summary
