#!/bin/sh
# Runs a window test under a private D-Bus session and a virtual X server.
# Skips (exit 77) where xvfb-run is missing.
if ! command -v xvfb-run >/dev/null 2>&1; then
  echo "1..0 # SKIP xvfb-run is not installed"
  exit 77
fi
if command -v dbus-run-session >/dev/null 2>&1; then
  exec dbus-run-session -- xvfb-run -a -s "-screen 0 1400x900x24" "$@"
fi
exec xvfb-run -a -s "-screen 0 1400x900x24" "$@"
