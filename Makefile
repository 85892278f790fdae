# The two commands of the README. Each creates .venv and installs the package when needed.
#   make demo   runs the main job (the embedded default of `lumiere-eval ucf101`)
#   make test   runs the test suite (CI runs exactly this, through .ci/run)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench install browser train-lumiere train-evaluators clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23"
	# torch 2.14.1 / torchvision 0.29.1 are the builds that import together on the CPU here (see README).
	$(PY) -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
	$(PY) -m pip install -q -e ".[dev,mturk,diffusers]"
	# videojedi 1.1.0 needs vjepa 0.1.2, which pins torchvision<0.20: both installed without dependencies
	# (what they import is in the dev extra); they are only references for tests/test_extractors_vjepa.py.
	$(PY) -m pip install -q --no-deps "videojedi==1.1.0" "vjepa==0.1.2"
	# vbench 0.1.5 pins old torch/transformers/timm builds: installed without dependencies; it is only the reference
	# of tests/test_conformance_vbench.py (its loaders download weights and are never called).
	$(PY) -m pip install -q --no-deps "vbench==0.1.5"
	# pyiqa 0.1.16: the MUSIQ reference of imaging quality (vbench.imaging_quality imports it); without its pins,
	# which would replace the torch build
	$(PY) -m pip install -q --no-deps "pyiqa==0.1.16"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/lumiere-eval ucf101

# Headless Chromium (Debian package) for the browser tests of the study preview and the dashboard.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } || \
		echo "chromium not installed: browser tests will be skipped"

test: $(STAMP) browser
	$(PY) -m pytest -q

# Recipes of the shipped weights (resumable; see each model card for steps and wall time).
train-lumiere: $(STAMP)
	$(PY) -m lumiere_eval.training.lumiere_recipe train
	$(PY) -m lumiere_eval.training.lumiere_recipe ship

train-evaluators: $(STAMP)
	$(VENV)/bin/lumiere-eval train-evaluators

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
