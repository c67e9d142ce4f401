#!/usr/bin/env bash
# Regenerates the report fixtures that real tools can write here:
#   pytest --junitxml, coverage.py (xml, json, lcov), unittest-xml-reporting,
#   jest + jest-junit (npm).
# The go-junit-report, Surefire and JaCoCo files are hand-written in the shape
# those tools write (see README.md): their tools cannot run on this machine.
# Usage: bash tests/golden/reporter/regenerate.sh   (from the repository root)
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

mkdir -p sample
cat > sample/__init__.py <<'PY'
PY
cat > sample/calc.py <<'PY'
def add(a, b):
    return a + b


def sign(x):
    if x > 0:
        return 1
    if x < 0:
        return -1
    return 0


def unused(x):
    return x * 2
PY
cat > test_calc.py <<'PY'
import pytest

from sample.calc import add, sign


def test_add():
    assert add(1, 2) == 3


def test_sign_positive():
    assert sign(5) == 1


def test_fails():
    assert add(1, 1) == 3


@pytest.fixture
def broken():
    raise RuntimeError("setup breaks")


def test_error(broken):
    pass


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert sign(-1) == 1
PY

# pytest's own JUnit XML; "|| true": the sample has a failing test on purpose.
python -m coverage run --branch -m pytest -p no:cacheprovider -p no:pushgate -q \
    --junitxml="$out/pytest-junit.xml" test_calc.py || true
python -m coverage xml -o "$out/coverage.xml" --include='sample/*'
python -m coverage json -o "$out/coverage.json" --include='sample/*'
python -m coverage lcov -o "$out/coverage.lcov" --include='sample/*'

# unittest through unittest-xml-reporting (pip install unittest-xml-reporting).
cat > test_unit.py <<'PY'
import unittest


class Sample(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(1 + 1, 2)

    def test_fail(self):
        self.assertEqual(1 + 1, 3)

    @unittest.skip("later")
    def test_skip(self):
        pass

    def test_error(self):
        raise ValueError("boom")


if __name__ == "__main__":
    import xmlrunner

    unittest.main(testRunner=xmlrunner.XMLTestRunner(output="unittest-out"), exit=False)
PY
python test_unit.py >/dev/null 2>&1 || true
cp unittest-out/*.xml "$out/unittest-junit.xml"

# jest + jest-junit from npm.
mkdir jest && cd jest
cat > package.json <<'JSON'
{"name": "sample", "version": "1.0.0", "private": true}
JSON
npm install --silent --no-audit --no-fund jest jest-junit >/dev/null
cat > sum.js <<'JS'
function sum(a, b) { return a + b; }
function clamp(x) { if (x > 10) { return 10; } return x; }
module.exports = { sum, clamp };
JS
cat > sum.test.js <<'JS'
const { sum, clamp } = require('./sum');
test('adds', () => { expect(sum(1, 2)).toBe(3); expect(clamp(3)).toBe(3); });
test('fails', () => { expect(1 + 1).toBe(3); });
test.skip('skipped', () => {});
describe('group', () => { test('nested ok', () => { expect(true).toBe(true); }); });
JS
JEST_JUNIT_OUTPUT_FILE="$out/jest-junit.xml" npx jest --ci --reporters=jest-junit \
    --coverage --coverageReporters=lcovonly --coverageReporters=cobertura >/dev/null 2>&1 || true
# Istanbul (jest --coverage) is another writer of LCOV and Cobertura.
cp coverage/lcov.info "$out/istanbul.lcov"
cp coverage/cobertura-coverage.xml "$out/istanbul-cobertura.xml"

# Make the files independent of this machine: no host names, no temp paths.
cd "$out"
sed -i -E 's/hostname="[^"]*"/hostname="ci"/; s/timestamp="[^"]*"/timestamp="2024-05-01T10:00:00"/' \
    pytest-junit.xml unittest-junit.xml jest-junit.xml
sed -i -E "s#$work#/src#g" pytest-junit.xml unittest-junit.xml jest-junit.xml coverage.xml \
    coverage.json coverage.lcov istanbul.lcov istanbul-cobertura.xml
sed -i -E 's/timestamp="[0-9]+"/timestamp="1714557600000"/' coverage.xml istanbul-cobertura.xml
