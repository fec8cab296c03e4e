# Sourced by the setup scripts: make .venv (Python 3.11+) and install this project with the given
# extras into it; a failed install stops with its log.
ensure_venv() {
    local extras=$1
    local py=${PYTHON:-python3}
    [ -x .venv/bin/python ] || "$py" -m venv .venv
    if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[${extras}]" > .venv/pip-install.log 2>&1; then
        grep -v "^WARNING: Location" .venv/pip-install.log >&2
        echo "pip install failed (log: .venv/pip-install.log)" >&2
        exit 1
    fi
}
