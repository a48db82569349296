#!/bin/sh
# Plugin authoring end to end, as a third party does it without the source tree:
#
#  1. `meson install --destdir` of the build; the staged headers, library and
#     paramlab-1.pc must be enough to compile `#include <paramlab.h>`;
#  2. `paramlab-cli new-plugin` refuses a bad slot, a bad name and a non-empty
#     directory with exit code 2 and a message saying why;
#  3. for every slot it writes a project that builds against the installed
#     paramlab-1.pc (with --werror) and whose own test passes;
#  4. the init and prune-schedule plugins are installed into the user plugin dir
#     ($XDG_DATA_HOME/paramlab/plugins), `paramlab-cli plugins` lists them as
#     loaded, and `paramlab-cli run` of their example experiment succeeds with the
#     effect the plugin promises.
#
# Everything runs with the installed paramlab-cli and libparamlab (LD_LIBRARY_PATH
# into the staging dir). Any failing step fails the test.
#
# Usage: test-new-plugin.sh BUILD_DIR [MESON [SANITIZE]]  (tests/meson.build passes
# all three; SANITIZE is the build's b_sanitize, which the generated projects and the
# compile check then use too, since a sanitized libparamlab needs a sanitized program)
# PARAMLAB_KEEP_TMP=1 keeps the temporary directory for a look after a failure.
set -eu

build=$(cd "${1:-${PARAMLAB_BUILD_DIR:?}}" && pwd)
meson=${2:-meson}
sanitize=${3:-none}
cc=${CC:-cc}
setup_args=
sanitize_flags=
if [ "$sanitize" != none ]; then
  setup_args="-Db_sanitize=$sanitize -Db_lundef=false"
  sanitize_flags="-fsanitize=$sanitize"
fi
all_slots="init gate prune-criterion prune-schedule quant lr-policy arch dataset"
installed_slots="init prune-schedule"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/paramlab-new-plugin-XXXXXX")
cleanup () {
  if [ -n "${PARAMLAB_KEEP_TMP:-}" ]; then
    echo "# kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

fail () {
  echo "FAIL: $*" >&2
  exit 1
}

# runs "$@" and fails, showing its log, unless it succeeds
check () {
  what=$1
  shift
  if ! "$@" >"$tmp/last.log" 2>&1; then
    cat "$tmp/last.log" >&2
    fail "$what"
  fi
}

# 1. ---- install ---------------------------------------------------------------
echo "# meson install --destdir $tmp/dest"
check "meson install" "$meson" install -C "$build" --quiet --destdir "$tmp/dest"
pc=$(find "$tmp/dest" -name paramlab-1.pc | head -n 1)
[ -n "$pc" ] || fail "meson install put no paramlab-1.pc into $tmp/dest"
prefix=$(sed -n 's/^prefix=//p' "$pc")
# the staged copy of the prefix: the .pc file relocated into it
mkdir -p "$tmp/pkgconfig"
sed "s|^prefix=.*|prefix=$tmp/dest$prefix|" "$pc" >"$tmp/pkgconfig/paramlab-1.pc"
PKG_CONFIG_PATH=$tmp/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
includedir=$(pkg-config --variable=includedir paramlab-1)/paramlab-1
libdir=$(pkg-config --variable=libdir paramlab-1)
abi=$(pkg-config --variable=abi_version paramlab-1)
plugindir=$(pkg-config --variable=plugindir paramlab-1)
[ "$plugindir" = "$libdir/paramlab/plugins" ] || fail "plugindir is $plugindir, expected $libdir/paramlab/plugins"
[ -n "$abi" ] || fail "paramlab-1.pc has no abi_version"
[ -f "$includedir/paramlab.h" ] || fail "paramlab.h is not installed in $includedir"
[ -e "$libdir/libparamlab.so" ] || fail "libparamlab.so is not installed in $libdir"
[ ! -e "$includedir/pl-config.h" ] || fail "the private pl-config.h is installed"
# every header the installed headers include is installed too
for h in "$includedir"/*.h; do
  for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$h"); do
    [ -f "$includedir/$inc" ] || fail "$(basename "$h") includes \"$inc\", which is not installed"
    case $inc in
      *-private.h|pl-config.h) fail "$(basename "$h") includes the private header $inc" ;;
    esac
  done
done
# paramlab.h compiles and links with exactly what paramlab-1.pc says
cat >"$tmp/use.c" <<'EOF'
#include <paramlab.h>
int
main (void)
{
  return pl_plugin_slot_get_interface (PL_SLOT_INIT) == PL_TYPE_INIT_STRATEGY ? 0 : 1;
}
EOF
# shellcheck disable=SC2046
check "compiling against the installed paramlab-1.pc" \
  "$cc" -Wall -Werror $sanitize_flags -o "$tmp/use" "$tmp/use.c" $(pkg-config --cflags --libs paramlab-1)
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
check "running a program linked with the installed libparamlab" "$tmp/use"

cli="$tmp/dest$prefix/bin/paramlab-cli"
[ -x "$cli" ] || fail "paramlab-cli is not installed"
# the installed program, its data and built-in plugins, and a user dir of our own
PARAMLAB_DATA_DIR=$tmp/dest$prefix/share/paramlab
[ -d "$PARAMLAB_DATA_DIR/datasets" ] || fail "the bundled datasets are not installed"
PARAMLAB_PLUGIN_PATH=$plugindir
XDG_DATA_HOME=$tmp/xdg
export PARAMLAB_DATA_DIR PARAMLAB_PLUGIN_PATH XDG_DATA_HOME
mkdir -p "$XDG_DATA_HOME"

# 2. ---- refusals ----------------------------------------------------------------
# refuse EXPECTED_TEXT ARGS...: exit code 2, EXPECTED_TEXT on stderr
refuse () {
  expected=$1
  shift
  set +e
  "$cli" new-plugin "$@" >"$tmp/out.log" 2>"$tmp/err.log"
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || { cat "$tmp/err.log" >&2; fail "new-plugin $* exited with $rc, expected 2"; }
  grep -qF -- "$expected" "$tmp/err.log" \
    || { cat "$tmp/err.log" >&2; fail "new-plugin $*: the message lacks: $expected"; }
}
echo "# refusals"
refuse 'unknown slot "pruning"; expected one of dataset, arch, init, gate, prune-criterion, prune-schedule, quant, lr-policy' \
  --slot pruning --name my-prune "$tmp/refused"
refuse '--slot is required' --name my-init "$tmp/refused"
refuse 'invalid name "My_Init"' --slot init --name My_Init "$tmp/refused"
refuse "must start with a lowercase letter" --slot init --name 1init "$tmp/refused"
refuse "'_' at position 3" --slot init --name my_init "$tmp/refused"
refuse "a '-' must be followed by a letter or digit" --slot init --name my- "$tmp/refused"
refuse '"none" is reserved' --slot init --name none "$tmp/refused"
refuse 'expected one directory' --slot init --name my-init
[ ! -e "$tmp/refused" ] || fail "a refused new-plugin created $tmp/refused"
mkdir -p "$tmp/full"
echo keep >"$tmp/full/notes.txt"
refuse "$tmp/full is not empty (it holds notes.txt)" --slot init --name my-init "$tmp/full"
[ "$(ls -A "$tmp/full")" = notes.txt ] || fail "new-plugin wrote into a non-empty directory"
[ "$(cat "$tmp/full/notes.txt")" = keep ] || fail "new-plugin changed a file of a non-empty directory"
echo file >"$tmp/afile"
refuse "$tmp/afile exists and is not a directory" --slot init --name my-init "$tmp/afile"

# 3. ---- every slot: generate, build against the installed Paramlab, test ----------
for slot in $all_slots; do
  name=t-$slot
  dir=$tmp/src/$name
  echo "# $slot: new-plugin, meson setup, compile, test"
  check "new-plugin --slot $slot" "$cli" new-plugin --slot "$slot" --name "$name" "$dir"
  for f in meson.build meson_options.txt "$name.plugin" "plp-$name.c" "tests/test-$name.c" \
           example.ini README.md; do
    [ -f "$dir/$f" ] || fail "new-plugin --slot $slot wrote no $f"
  done
  if grep -l '{{' "$dir"/* "$dir"/tests/* 2>/dev/null; then
    fail "new-plugin --slot $slot left a placeholder"
  fi
  grep -qx "X-Paramlab-Slot=$slot" "$dir/$name.plugin" || fail "$name.plugin: no X-Paramlab-Slot=$slot"
  grep -qx "X-Paramlab-ABI=$abi" "$dir/$name.plugin" || fail "$name.plugin: no X-Paramlab-ABI=$abi"
  # shellcheck disable=SC2086
  check "meson setup of the $slot plugin" "$meson" setup --werror $setup_args "$dir/build" "$dir"
  check "building the $slot plugin" "$meson" compile -C "$dir/build"
  check "the $slot plugin's own test" "$meson" test -C "$dir/build" --print-errorlogs
done

# a .plugin file naming another ABI is caught by meson setup
cp -r "$tmp/src/t-init" "$tmp/src/old-abi"
rm -rf "$tmp/src/old-abi/build"
sed -i "s/^X-Paramlab-ABI=.*/X-Paramlab-ABI=0/" "$tmp/src/old-abi/t-init.plugin"
if "$meson" setup "$tmp/src/old-abi/build" "$tmp/src/old-abi" >"$tmp/old-abi.log" 2>&1; then
  fail "meson setup accepted a plugin whose .plugin names ABI 0"
fi
grep -q "X-Paramlab-ABI=0 but the installed Paramlab has ABI $abi" "$tmp/old-abi.log" \
  || { cat "$tmp/old-abi.log" >&2; fail "meson setup did not say why it refused ABI 0"; }

# 4. ---- install into the user plugin dir, list, run ------------------------------
for slot in $installed_slots; do
  name=t-$slot
  dir=$tmp/src/$name
  echo "# $slot: meson install into \$XDG_DATA_HOME, plugins, run"
  # the default install dir comes from XDG_DATA_HOME at setup time
  check "reconfiguring the $slot plugin" "$meson" setup --reconfigure "$dir/build" "$dir"
  check "meson install of the $slot plugin" "$meson" install -C "$dir/build" --quiet
  for f in "lib$name.so" "$name.plugin"; do
    [ -f "$XDG_DATA_HOME/paramlab/plugins/$name/$f" ] \
      || fail "meson install put no $f into \$XDG_DATA_HOME/paramlab/plugins/$name"
  done
done

check "paramlab-cli plugins --format json" "$cli" plugins --format json
cp "$tmp/last.log" "$tmp/plugins.json"
check "paramlab-cli plugins" "$cli" plugins
cp "$tmp/last.log" "$tmp/plugins.txt"
for slot in $installed_slots; do
  name=t-$slot
  line=$(grep -F "\"id\":\"$name\"" "$tmp/plugins.json") \
    || { cat "$tmp/plugins.json" >&2; fail "paramlab-cli plugins does not list $name"; }
  for want in "\"slot\":\"$slot\"" '"loaded":true' '"error":null' '"version":"0.1.0"' \
              "\"dir\":\"$XDG_DATA_HOME/paramlab/plugins/$name\""; do
    case $line in
      *"$want"*) ;;
      *) echo "$line" >&2; fail "paramlab-cli plugins: $name lacks $want" ;;
    esac
  done
  grep -E "^  $name +0\.1\.0 +—" "$tmp/plugins.txt" >/dev/null \
    || { cat "$tmp/plugins.txt" >&2; fail "paramlab-cli plugins (table) does not show $name as loaded"; }
done

db=$tmp/runs.db
check "paramlab-cli run of the init plugin's example" \
  "$cli" run "$tmp/src/t-init/example.ini" --db "$db"
grep -q "^run 1 finished" "$tmp/last.log" || { cat "$tmp/last.log" >&2; fail "run 1 did not finish"; }
check "paramlab-cli run of the prune-schedule plugin's example" \
  "$cli" run "$tmp/src/t-prune-schedule/example.ini" --db "$db" --set prune.sparsity=0.6
grep -q "^run 2 finished" "$tmp/last.log" || { cat "$tmp/last.log" >&2; fail "run 2 did not finish"; }

# the runs recorded the plugins with their options, and the schedule pruned
check "paramlab-cli show 1" "$cli" show 1 --db "$db"
grep -qE 'init +t-init +0\.1\.0 +\{"std":0\.05\}' "$tmp/last.log" \
  || { cat "$tmp/last.log" >&2; fail "run 1 does not record the t-init plugin and its options"; }
check "paramlab-cli show 2" "$cli" show 2 --db "$db"
grep -qE 'prune-schedule +t-prune-schedule +0\.1\.0 +\{"sparsity":0\.6\}' "$tmp/last.log" \
  || { cat "$tmp/last.log" >&2; fail "run 2 does not record the t-prune-schedule plugin and its options"; }
check "paramlab-cli metrics 2 sparsity/total" "$cli" metrics 2 sparsity/total --db "$db" --format csv
final=$(tail -n 1 "$tmp/last.log" | cut -d, -f3)
case $final in
  0.6|0.59*|0.60*) ;;
  *) cat "$tmp/last.log" >&2; fail "run 2 ended at sparsity/total $final, expected 0.6" ;;
esac

echo "ok: the installed Paramlab builds, installs and runs new-plugin projects"
