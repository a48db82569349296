#!/bin/sh
# Every string marked for translation (the files of po/POTFILES.in, extracted
# with the keywords of meson's 'glib' gettext preset, as `paramlab-pot` does)
# has a translation in each language of po/LINGUAS, none of them fuzzy or
# empty. Skips (exit 77) where the gettext tools are missing.
# Usage: po-complete.sh SOURCE_DIR
src=${1:?usage: po-complete.sh SOURCE_DIR}
for tool in xgettext msgcmp msgfmt; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool is not installed"
    exit 77
  fi
done
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$src" || exit 1
xgettext --from-code=UTF-8 --add-comments --keyword=_ --keyword=N_ --keyword=C_:1c,2 \
  --keyword=NC_:1c,2 --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 \
  --keyword=g_dpgettext2:2c,3 --files-from=po/POTFILES.in -o "$tmp/paramlab.pot" || exit 1
status=0
for lang in $(grep -v '^#' po/LINGUAS); do
  if ! msgcmp "po/$lang.po" "$tmp/paramlab.pot"; then
    echo "po/$lang.po lacks the strings above: add them (see docs/window.md, Language)"
    status=1
  fi
  stats=$(msgfmt -c --statistics -o /dev/null "po/$lang.po" 2>&1) || status=1
  echo "po/$lang.po: $stats"
  case "$stats" in
    *fuzzy*|*untranslated*) status=1 ;;
  esac
done
exit $status
