#!/usr/bin/env bash
# Makes sure the real-browser tests have what they run: Debian's firefox-esr and chromium, libnotify4
# (Firefox dlopens libnotify.so.4 for desktop notifications; without it showNotification fails
# with NS_ERROR_FAILURE), dbus-daemon and openssl. Idempotent: installs only what is missing, from
# apt, never a downloaded browser; runs `apt-get update` only if the install fails without it.
set -euo pipefail

SUDO=''
if [ "$(id -u)" -ne 0 ]; then SUDO='sudo'; fi

missing=()
command -v firefox-esr >/dev/null 2>&1 || missing+=(firefox-esr)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v dbus-daemon >/dev/null 2>&1 || missing+=(dbus-daemon)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
dpkg-query -W -f='${Status}' libnotify4 2>/dev/null | grep -q 'install ok installed' || missing+=(libnotify4)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "ensure-browsers: installing ${missing[*]}"
  install() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
  if ! install; then
    $SUDO apt-get update
    install
  fi
fi

# chromium's wrapper script prints a harmless shell warning on stderr; keep only the version line.
echo "ensure-browsers: $(firefox-esr --version 2>/dev/null) | $(chromium --version 2>/dev/null) | $(dbus-daemon --version | head -n 1)"
