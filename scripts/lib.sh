# Shared by scripts/* and .ci/run: find Python 3.11, keep .venv in step with a requirements file.
# Sourced, not run. Expects the current directory to be the repository root.

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
warn() { printf '\033[33mwarning: %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31merror: %s\033[0m\n' "$*" >&2; exit 1; }

# Python 3.11 exactly: Django 5.2 LTS and every pinned package were resolved for it.
find_python() {
  local candidate
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

# _venv_installed REQUIREMENTS_FILE: whether its stamp (_venv_hash: the interpreter and the
# requirement files) shows that exact set is installed in .venv. requirements-dev.txt includes
# requirements.txt (-r), so both are part of its hash.
_venv_hash() { { .venv/bin/python -VV; cat requirements.txt "$1"; } | sha256sum | cut -d' ' -f1; }
_venv_installed() {
  local stamp=".venv/.installed-$(basename "$1").sha256"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(_venv_hash "$1")" ]
}

# ensure_venv REQUIREMENTS_FILE: create .venv if needed and install the file, unless it is
# installed already. A current requirements-dev.txt install (make test, CI) holds
# requirements.txt too, so make run (and the test that starts it) installs nothing more.
ensure_venv() {
  local req="$1" python
  if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys' 2>/dev/null; then
    python="$(find_python)" || die "Python 3.11 is needed (python3.11, or python3 being 3.11)."
    say "Creating .venv with $python"
    rm -rf .venv
    "$python" -m venv .venv || die "could not create .venv (on Debian: apt-get install python3.11-venv)"
  fi
  _venv_installed "$req" && return 0
  [ "$req" = requirements.txt ] && _venv_installed requirements-dev.txt && return 0
  say "Installing $req into .venv"
  .venv/bin/python -m pip install --disable-pip-version-check --quiet -r "$req" \
    2> >(grep -v "^WARNING: Location .* is ignored: it is neither a file nor a directory" >&2)
  _venv_hash "$req" > ".venv/.installed-$(basename "$req").sha256"
}

# Debian's chromium (browser tests), CJK fonts (Chinese pages in screenshots) and gettext (the
# catalogue test), when missing
# and installable. Never fatal: without chromium the browser tests skip.
ensure_browser() {
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
  # GNU gettext: the catalogue-completeness test extracts messages as `make messages` does.
  command -v msgfmt >/dev/null 2>&1 || missing+=(gettext)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    warn "not installed: ${missing[*]} (needs root and apt-get); browser tests will skip"
    return 0
  fi
  say "Installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } \
    || warn "apt-get could not install ${missing[*]}; browser tests will skip"
}
