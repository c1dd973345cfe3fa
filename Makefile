# The two commands a newcomer needs. Both install whatever is missing first (scripts/setup.sh).
.PHONY: serve test lint

serve:  ## install, then start FinDesk on http://127.0.0.1:7860 with the embedded defaults
	bash scripts/setup.sh
	.venv/bin/findesk serve

test:   ## install (with test tools and chromium), run the whole suite, then its storage tests again on PostgreSQL
	bash scripts/setup.sh --test
	.venv/bin/python -m pytest
	FINDESK_TEST_ENGINE=postgresql .venv/bin/python -m pytest -m "storage and not slow"

lint:   ## ruff (lint + format) everywhere, mypy on the non-UI packages
	.venv/bin/ruff check agent retrieval speech ui tests benchmarks
	.venv/bin/ruff format --check agent retrieval speech ui tests benchmarks
	.venv/bin/mypy agent retrieval speech
