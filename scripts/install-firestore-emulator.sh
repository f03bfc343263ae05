#!/usr/bin/env bash
# Installs Google's Firestore emulator when it is absent: the run ledger's tests (jest's global setup) and
# `npm run local` start it themselves, but cannot install it. It is the Debian package
# google-cloud-cli-firestore-emulator from Google's Cloud SDK apt repository (configured on GitHub's Ubuntu runners;
# elsewhere see https://cloud.google.com/sdk/docs/install#deb), or `gcloud components install cloud-firestore-emulator`
# for a Cloud SDK installed from its archive. It needs Java 17+, which the package pulls in.
set -euo pipefail

launcher() {
  local root
  for root in "${CLOUDSDK_ROOT_DIR:-}" "$(dirname "$(dirname "$(readlink -f "$(command -v gcloud 2>/dev/null || echo /nonexistent/bin/gcloud)")")")"; do
    [ -n "$root" ] && [ -x "$root/platform/cloud-firestore-emulator/cloud_firestore_emulator" ] &&
      { echo "$root/platform/cloud-firestore-emulator/cloud_firestore_emulator"; return 0; }
  done
  return 1
}

if found=$(launcher); then
  echo "Firestore emulator: $found"
  exit 0
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "installing the Firestore emulator needs root: run apt-get install google-cloud-cli-firestore-emulator as root" >&2; exit 1
  fi
}

if ! apt-cache policy google-cloud-cli-firestore-emulator 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  as_root apt-get update -qq
fi
if ! apt-cache policy google-cloud-cli-firestore-emulator 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  echo "no apt source offers google-cloud-cli-firestore-emulator: add Google's Cloud SDK apt repository (https://cloud.google.com/sdk/docs/install#deb) or run: gcloud components install cloud-firestore-emulator" >&2
  exit 1
fi
as_root apt-get install -y -qq google-cloud-cli-firestore-emulator
echo "Firestore emulator: $(launcher)"
