# The two README commands: `make demo` (the main job) and `make test`.
# Both do all set-up they need first (scripts/setup_env.sh, idempotent).
SHELL := /bin/bash
VENV ?= .venv
WS ?= .ws
PY := $(abspath $(VENV))/bin/python
COLCON := $(PY) -m colcon
COLCON_PATHS := --base-paths . --build-base $(WS)/build --install-base $(WS)/install
export COLCON_LOG_PATH := $(abspath $(WS))/log
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup build test benchmark clean demo synthetic-data train-synthetic promote-synthetic

setup:
	@VENV=$(VENV) scripts/setup_env.sh

build: setup
	@$(COLCON) build $(COLCON_PATHS) \
		--packages-select eunet_ros --event-handlers console_cohesion- summary+

test: build
	@$(COLCON) test $(COLCON_PATHS) --test-result-base $(WS)/test_results --packages-select eunet_ros --return-code-on-test-failure \
		--event-handlers console_direct+ summary+ --pytest-args -p no:cacheprovider -ra; \
	rc=$$?; $(COLCON) test-result --test-result-base $(WS)/test_results --verbose || rc=1; \
	exit $$rc

benchmark: setup
	@$(PY) -m eunet_ros.benchmark $(ARGS)

clean:
	rm -rf $(WS) build install log

# README command 1: the main job (see scripts/demo.py and the README).
demo: build
	@$(PY) scripts/demo.py $(ARGS)

# ---- The shipped checkpoint: EUnet (default variant) on synthetic FS scenes ----------------
# `make train-synthetic` renders (or reuses) the synthetic train/val/test sets, trains,
# evaluates on the test set (seeds never used in training, at 1280x720) and writes
# $(SYN_RUN)/best.pt + $(SYN_RUN)/model_card.md (provenance, IoU table, cones found by
# distance). It never writes to models/: `make promote-synthetic` does, when the run is better.
# Profile `cpu` (reduced resolution and budget: about 25 min on 2 cores) or `gpu` (the
# full recipe); default: gpu when torch sees CUDA. Every SYN_* variable can be overridden,
# e.g. `make train-synthetic SYN_PROFILE=gpu SYN_EPOCHS=300`. Interrupted? Run it again:
# rendering is reused and training resumes from $(SYN_RUN)/last.pt.
SYN_PROFILE ?= $(eval SYN_PROFILE := $(shell $(PY) -c 'import torch; print("gpu" if torch.cuda.is_available() else "cpu")' 2>/dev/null || echo cpu))$(SYN_PROFILE)
SYN_DATA ?= data/synthetic
SYN_RUN ?= runs/synthetic_$(SYN_PROFILE)
SYN_MODEL ?= models/eunet_fs_synthetic.pt
SYN_DEVICE ?= auto
SYN_SEED_TRAIN ?= 1000
SYN_SEED_VAL ?= 2000
SYN_SEED_TEST ?= 3000
# the renderer's GENERATOR_VERSION: data folders are named by it, so new scenes never
# reuse folders rendered by an older renderer (test_synthetic_labels checks they agree)
SYN_GEN := 2
# the held-out test set is rendered at camera resolution for both profiles: the engine
# letterboxes it into the network input exactly as the node does
SYN_TEST_WIDTH ?= 1280
SYN_TEST_HEIGHT ?= 720
# labels that can be learned: a cone under 8 px tall in the 1280x720 camera frame is 255
# (ignore) in the test set; the training frames are that camera at half scale, so the same
# rule is 4 px there (the network sees both at the same scale). Folders are named by it.
SYN_TEST_MIN_PX ?= 8
SYN_MIN_PX ?= 4
# fast-sr-a23: fast's widths plus a block at 1/4 after the stem and a refinement block
# on the last concatenation, attention only at 1/16 and 1/32; same CPU time as fast
# (docs/model_ablation.md)
SYN_VARIANT ?= fast-sr-a23
SYN_PATIENCE ?= 20
# the training config: synthetic_fs.yaml is synthetic.yaml plus the small-object recipe
# chosen in docs/recipe_ablation.md (copy-paste, Lovasz on cones, EMA, no decay on
# norms/biases, best.pt by cone mIoU)
SYN_CONFIG ?= training/configs/synthetic_fs.yaml
SYN_TRAIN_ARGS ?=
# extra arguments for python -m training.synthetic (e.g. --workers 4)
SYN_RENDER_ARGS ?=
# profile cpu: 16:9 frames at 640x360 (a 1280x720 camera at the network's scale) into a
# 640x384 network input
SYN_WIDTH_cpu := 640
SYN_HEIGHT_cpu := 360
SYN_INPUT_cpu := 384 640
SYN_TRAIN_cpu := 4000
SYN_VAL_cpu := 200
SYN_TEST_cpu := 300
# 8 epochs x 250 steps of 16 at 640x384: ~2.9 s a step on the 2 quiet cores of the
# development machine, about 1 h 40 min of training (measured with --stop-after-steps)
SYN_EPOCHS_cpu := 8
SYN_BATCH_cpu := 16
SYN_WORKERS_cpu := 1
# 2000 steps only: the recipe's 1e-4 barely moves the network in that budget (measured:
# mIoU 0.14 vs 0.25 at 1e-3 after 150 steps), so the short run uses a higher peak
SYN_LR_cpu := 4e-4
# profile gpu: 640x360 frames into the variant's 640x384 input
SYN_WIDTH_gpu := 640
SYN_HEIGHT_gpu := 360
SYN_INPUT_gpu := 384 640
SYN_TRAIN_gpu := 20000
SYN_VAL_gpu := 500
SYN_TEST_gpu := 500
SYN_EPOCHS_gpu := 200
SYN_BATCH_gpu := 64
SYN_WORKERS_gpu := 8
SYN_LR_gpu := 1e-4
SYN_WIDTH ?= $(SYN_WIDTH_$(SYN_PROFILE))
SYN_HEIGHT ?= $(SYN_HEIGHT_$(SYN_PROFILE))
SYN_INPUT ?= $(SYN_INPUT_$(SYN_PROFILE))
SYN_TRAIN ?= $(SYN_TRAIN_$(SYN_PROFILE))
SYN_VAL ?= $(SYN_VAL_$(SYN_PROFILE))
SYN_TEST ?= $(SYN_TEST_$(SYN_PROFILE))
SYN_EPOCHS ?= $(SYN_EPOCHS_$(SYN_PROFILE))
SYN_BATCH ?= $(SYN_BATCH_$(SYN_PROFILE))
SYN_WORKERS ?= $(SYN_WORKERS_$(SYN_PROFILE))
SYN_LR ?= $(SYN_LR_$(SYN_PROFILE))
syn_dir = $(SYN_DATA)/$(1)_$(if $(4),$(4),$(SYN_WIDTH)x$(SYN_HEIGHT))_n$(2)_s$(3)_m$(if $(5),$(5),$(SYN_MIN_PX))_v$(SYN_GEN)

# $(call syn_render,split,count,seed[,WxH,min px]): render into a folder named by its parameters
# (through a .partial folder renamed when complete; a killed render resumes there),
# then point $(SYN_DATA)/<split> (what the configs read) at it.
define syn_render
	@d="$(call syn_dir,$(1),$(2),$(3),$(4),$(5))"; size="$(if $(4),$(4),$(SYN_WIDTH)x$(SYN_HEIGHT))"; \
	if [ -d "$$d" ]; then echo "[synthetic] reusing $$d"; else \
	  echo "[synthetic] rendering $$d" && \
	  $(PY) -m training.synthetic --out "$$d.partial" --count $(2) --seed $(3) $(SYN_RENDER_ARGS) \
	    --min-cone-px $(if $(5),$(5),$(SYN_MIN_PX)) \
	    --width $${size%x*} --height $${size#*x} && mv "$$d.partial" "$$d" || exit 1; \
	fi; ln -sfn "$$(basename "$$d")" "$(SYN_DATA)/$(1)"
endef

synthetic-data: setup
	@mkdir -p $(SYN_DATA)
	$(call syn_render,test,$(SYN_TEST),$(SYN_SEED_TEST),$(SYN_TEST_WIDTH)x$(SYN_TEST_HEIGHT),$(SYN_TEST_MIN_PX))
	$(call syn_render,val,$(SYN_VAL),$(SYN_SEED_VAL))
	$(call syn_render,train,$(SYN_TRAIN),$(SYN_SEED_TRAIN))

# $(call syn_card[,extra model_card args]): write $(SYN_RUN)/model_card.md for the run's best.pt
syn_card = $(PY) -m training.model_card --checkpoint $(SYN_RUN)/best.pt --eval $(SYN_RUN)/eval_test/metrics.json \
		--summary $(SYN_RUN)/summary.json --out $(SYN_RUN)/model_card.md $(1) \
		--note "Trained only on synthetic Formula Student scenes (training.synthetic). For a real car, fine-tune it on FSOCO and your own labelled frames (README, Training)." \
		--command "make train-synthetic SYN_PROFILE=$(SYN_PROFILE) SYN_DEVICE=$(SYN_DEVICE) SYN_VARIANT=$(SYN_VARIANT) SYN_CONFIG=$(SYN_CONFIG)  \# $(SYN_TRAIN) train / $(SYN_VAL) val images at $(SYN_WIDTH)x$(SYN_HEIGHT), $(SYN_TEST) test images at $(SYN_TEST_WIDTH)x$(SYN_TEST_HEIGHT), seeds $(SYN_SEED_TRAIN)/$(SYN_SEED_VAL)/$(SYN_SEED_TEST), $(SYN_EPOCHS) epochs, batch $(SYN_BATCH), lr $(SYN_LR)"

train-synthetic: synthetic-data
	@echo "[train-synthetic] profile $(SYN_PROFILE): $(SYN_TRAIN) images $(SYN_WIDTH)x$(SYN_HEIGHT), $(SYN_EPOCHS) epochs, batch $(SYN_BATCH), run folder $(SYN_RUN)"
	$(PY) -m training.train --config $(SYN_CONFIG) --output-dir $(SYN_RUN) \
		--variant $(SYN_VARIANT) --input-size $(SYN_INPUT) --epochs $(SYN_EPOCHS) \
		--batch-size $(SYN_BATCH) --lr $(SYN_LR) --patience $(SYN_PATIENCE) \
		--workers $(SYN_WORKERS) --device $(SYN_DEVICE) --resume auto \
		--set data.train.0.root=$(call syn_dir,train,$(SYN_TRAIN),$(SYN_SEED_TRAIN)) \
		--set data.val.0.root=$(call syn_dir,val,$(SYN_VAL),$(SYN_SEED_VAL)) $(SYN_TRAIN_ARGS)
	$(PY) -m training.evaluate --checkpoint $(SYN_RUN)/best.pt --device $(SYN_DEVICE) \
		--dataset folder:$(call syn_dir,test,$(SYN_TEST),$(SYN_SEED_TEST),$(SYN_TEST_WIDTH)x$(SYN_TEST_HEIGHT),$(SYN_TEST_MIN_PX)) \
		--output-dir $(SYN_RUN)/eval_test --title "held-out synthetic test set (seed $(SYN_SEED_TEST))"
	@$(call syn_card) >/dev/null
	@echo "[train-synthetic] done: $(SYN_RUN)/best.pt, held-out metrics in $(SYN_RUN)/eval_test/, card $(SYN_RUN)/model_card.md"
	@echo "[train-synthetic] models/ is unchanged; 'make promote-synthetic' compares it with $(SYN_MODEL) on the same test set and replaces it only when better"

# Compare the run's best.pt with the shipped checkpoint on the same held-out test set and
# replace the shipped one (and its card) only when the run is better (cone mIoU);
# PROMOTE_ARGS=--force promotes anyway.
PROMOTE_ARGS ?=
promote-synthetic: setup
	@test -f $(SYN_RUN)/best.pt -a -f $(SYN_RUN)/eval_test/metrics.json || { echo "[promote-synthetic] no finished run in $(SYN_RUN): make train-synthetic first" >&2; exit 2; }
	@if [ -f $(SYN_MODEL) ]; then $(PY) -m training.evaluate --checkpoint $(SYN_MODEL) --device $(SYN_DEVICE) \
		--dataset folder:$(call syn_dir,test,$(SYN_TEST),$(SYN_SEED_TEST),$(SYN_TEST_WIDTH)x$(SYN_TEST_HEIGHT),$(SYN_TEST_MIN_PX)) \
		--output-dir $(SYN_RUN)/eval_current --title "shipped checkpoint on the same test set" >/dev/null || exit 1; fi
	$(PY) -m training.promote --candidate $(SYN_RUN)/best.pt --candidate-eval $(SYN_RUN)/eval_test/metrics.json \
		--current $(SYN_MODEL) $(if $(wildcard $(SYN_MODEL)),--current-eval $(SYN_RUN)/eval_current/metrics.json) $(PROMOTE_ARGS)
	@$(call syn_card,$$(test -f $(SYN_RUN)/eval_current/metrics.json && echo --before-eval $(SYN_RUN)/eval_current/metrics.json --before-label previously-shipped) --name $(notdir $(SYN_MODEL))) >/dev/null
	@cp $(SYN_RUN)/model_card.md $(basename $(SYN_MODEL)).md.partial && mv $(basename $(SYN_MODEL)).md.partial $(basename $(SYN_MODEL)).md
	@echo "[promote-synthetic] wrote $(SYN_MODEL) and $(basename $(SYN_MODEL)).md"
