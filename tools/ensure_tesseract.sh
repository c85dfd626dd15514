#!/bin/sh
# Make sure Tesseract and its models of the scripts RapidOCR does not read are on this machine (Debian's
# packages). Idempotent: returns at once when they are all installed.
# Fresh machine: `apt-get update` + install, ~20 s, ~20 MB download, ~70 MB on disk.
# gemmadoc uses them only for scans whose script RapidOCR does not read (pipeline/ingest/tesseract.py).
set -eu
SCRIPTS="${TESSERACT_SCRIPTS:-cyrl grek arab hebr hang geor armn}"
PKGS="tesseract-ocr"
for s in $SCRIPTS; do PKGS="$PKGS tesseract-ocr-script-$s"; done
missing=""
for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
echo "ensure_tesseract: installing Debian packages$missing ..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing >&2
