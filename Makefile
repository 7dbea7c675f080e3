# The two commands a newcomer needs are in README.md; these targets are what they run.
PYTHON ?= python3

.PHONY: install demo test

install:
	$(PYTHON) -m pip install -q -e '.[test]'

demo: install
	ruview demo

# Every test: Python (unit, property, end-to-end against emulated nodes) and the firmware's
# host tests (cmocka under ASan/UBSan, short libFuzzer runs), which pytest drives through ctest.
test: install
	$(PYTHON) -m pytest -q
