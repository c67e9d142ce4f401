# Sourced by scripts/serve and scripts/check: make .venv with pushgate installed.
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
extras="${1:-fast}"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "pushgate needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $("$python" --version)" >&2
    "$python" -m venv .venv
fi
stamp=".venv/.pushgate-installed-$extras"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing pushgate[$extras] into .venv" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
    echo "$want" > "$stamp"
fi
