# The two commands a newcomer needs are in README.md; these targets are what they run.
PYTHON ?= python3

.PHONY: install system-deps demo test

install:
	$(PYTHON) -m pip install -q -e '.[test]'

demo: install
	ruview demo

# The system packages some tests need (.ci/apt-packages): installed when run as root with apt,
# else the one command to run is printed and those tests are skipped saying so.
system-deps:
	@sh .ci/system-deps

# Every test: Python (unit, property, end-to-end against emulated nodes) and the firmware's
# host tests (cmocka under ASan/UBSan, short libFuzzer runs), which pytest drives through ctest.
test: install system-deps
	$(PYTHON) -m pytest -q
