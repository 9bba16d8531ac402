# spanvault: see README.md. Everything builds with CGO_ENABLED=0 (gokrazy
# images have no libc).
export CGO_ENABLED := 0
GO      ?= go
BUILD   := build
# Fuzzing is bounded by executions, not time: a duration-based -fuzztime
# fails at random with "context deadline exceeded" on Go 1.26 (a race in
# the fuzz coordinator, golang/go#75804). FUZZSCALE multiplies every count.
# Minimizing each new interesting input is bounded the same way (by
# default it may take a minute per input, with no executions counted:
# FuzzReader spent two minutes of CI in it).
FUZZSCALE ?= 1
FUZZMIN   := -fuzzminimizetime 1000x

.PHONY: flood fleet cluster all build check test test-go test-arm64 fuzz bench bench-index bench-pages cross demo deps image image-vm image-test load clean screens

all: build

build:
	$(GO) build -trimpath -o $(BUILD)/spanvault ./cmd/spanvault
	$(GO) build -trimpath -o $(BUILD)/sipgen ./cmd/sipgen
	$(GO) build -trimpath -o $(BUILD)/spanvault-archive ./cmd/spanvault-archive

# The one command that sets up and runs the main job on an embedded
# default: generate a sample capture, make a key, record the calls into a
# vault, list them, export one as WAV.
demo: build
	@rm -rf $(BUILD)/demo && mkdir -p $(BUILD)/demo
	$(BUILD)/sipgen -o $(BUILD)/demo/sample.pcap -calls 3 -rejected 1 -dtmf 42 -duration 8s
	$(BUILD)/spanvault keygen -o $(BUILD)/demo/identity.txt > $(BUILD)/demo/recipients.txt
	$(BUILD)/spanvault record -vault $(BUILD)/demo/vault -recipient $(BUILD)/demo/recipients.txt $(BUILD)/demo/sample.pcap
	@echo "--- calls, as the box sees them (no personal data without the identity):"
	$(BUILD)/spanvault calls -vault $(BUILD)/demo/vault
	@echo "--- calls, with the archive's identity:"
	$(BUILD)/spanvault calls -vault $(BUILD)/demo/vault -identity $(BUILD)/demo/identity.txt
	$(BUILD)/spanvault export -vault $(BUILD)/demo/vault -identity $(BUILD)/demo/identity.txt \
		-call $$($(BUILD)/spanvault calls -vault $(BUILD)/demo/vault -q | head -1) \
		-o $(BUILD)/demo/call.wav
	$(BUILD)/spanvault audit verify -vault $(BUILD)/demo/vault
	@echo "--- the central archive on loopback: init, enroll the demo box, serve, sync, list"
	$(BUILD)/spanvault-archive init -dir $(BUILD)/demo/archive -name demo-archive -listen 127.0.0.1:18443
	$(BUILD)/spanvault-archive enroll -dir $(BUILD)/demo/archive -name branch-demo -o $(BUILD)/demo/enroll
	@printf '[vault]\ndir = "vault"\nrecipients = "recipients.txt"\n' > $(BUILD)/demo/box.toml
	@cat $(BUILD)/demo/enroll/sync.toml >> $(BUILD)/demo/box.toml
	@$(BUILD)/spanvault-archive serve -dir $(BUILD)/demo/archive > $(BUILD)/demo/archive.log 2>&1 & echo $$! > $(BUILD)/demo/archive.pid
	@sleep 1
	$(BUILD)/spanvault sync -config $(BUILD)/demo/box.toml -now
	$(BUILD)/spanvault-archive recordings -dir $(BUILD)/demo/archive
	@# Reading a recording through the archive is an export a second person approves
	@# (get -appliance A -id ID -reason WHY -by NAME, request approve, get -request N -o FILE:
	@# docs/operations.md); the demo has no accounts, so it takes the object the archive stores.
	@ID=$$($(BUILD)/spanvault calls -vault $(BUILD)/demo/vault -q | head -1); \
	SUM=$$($(BUILD)/spanvault-archive recordings -dir $(BUILD)/demo/archive -json | grep "\"id\":\"$$ID\",\"kind\":\"recording\"" | sed 's/.*"sha256":"\([0-9a-f]*\)".*/\1/'); \
	cp $(BUILD)/demo/archive/store/objects/$$(echo $$SUM | cut -c1-2)/$$SUM $(BUILD)/demo/from-archive.age && echo "the archive holds $$ID as $$SUM"
	@# The identity is hybrid post-quantum: age 1.3 or later opens it; an older age is
	@# replaced by filippo.io/age's own command, built from the module this project requires.
	@AGE=age; if ! age --version 2>/dev/null | grep -Eq '^v?(1\.([3-9]|[1-9][0-9])|[2-9])'; then AGE=$(abspath $(BUILD))/age; \
		(cd $$($(GO) list -m -f '{{.Dir}}' filippo.io/age) && GOFLAGS=-buildvcs=false $(GO) build -o $$AGE ./cmd/age); fi; \
	$$AGE -d -i $(BUILD)/demo/identity.txt -o /dev/null $(BUILD)/demo/from-archive.age && echo "the standard age tool ($$AGE) opens the archived recording"
	$(BUILD)/spanvault-archive verify -dir $(BUILD)/demo/archive
	@kill $$(cat $(BUILD)/demo/archive.pid)

deps:
	bash scripts/install-deps.sh
	bash scripts/install-s3.sh >/dev/null

# The README's test command: the cheap gate first, then installs what the
# tests need, runs every test (and the box's pure packages on arm64), then
# each fuzz target for a bounded time.
test: check deps test-go test-arm64 fuzz

# The cheap gate: no root, no network namespace, no installed tool, about
# a minute on two cores from a warm build cache. Formatting, vet,
# staticcheck and errcheck (both pinned in go.mod's tool block; errcheck's
# deliberate exceptions, each with its reason, are in .errcheck-excludes),
# the two binaries' dependency tests, and the unit tests of the packages
# that need nothing but Go (tests that find an installed tool, age or
# ffmpeg, use it; without one they skip).
CHECK_PKGS = ./internal/... ./record/... ./capture/sip ./capture/sdp ./capture/decode ./capture/rtphdr \
	./capture/rtpstream ./capture/audio ./capture/calls ./vault ./vault/sealed ./vault/agefile \
	./vault/retention ./vault/audit ./sync/wire ./archive/index ./archive/keyring ./archive/anchor \
	./archive/ca ./appliance/config ./appliance/led
check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt: not formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) tool errcheck -ignoretests -exclude .errcheck-excludes ./...
	$(GO) test -count=1 -run '^TestBoxDependencies$$' ./cmd/spanvault
	$(GO) test -count=1 -run '^TestArchiveDependencies$$' ./cmd/spanvault-archive
	$(GO) test -count=1 -run '^TestVaultDependencies$$' ./vault
	$(GO) test -count=1 -short $(CHECK_PKGS)

# SPANVAULT_REQUIRE_TOOLS: a test that needs an installed tool (age,
# versitygw, PostgreSQL) fails instead of skipping. The sync acceptance
# tests run a second time with the archive on S3 (versitygw, Object Lock)
# and its index in a private PostgreSQL server, the access tests with the
# index in PostgreSQL: with SPANVAULT_RERUN set, only the tests each
# package's TestMain marks (internal/testkit.Main) run.
test-go:
	$(GO) vet ./...
	SPANVAULT_REQUIRE_TOOLS=1 SPANVAULT_FLOOD_FULL=1 $(GO) test -count=1 -p 1 -timeout 40m ./...
	SPANVAULT_REQUIRE_TOOLS=1 SPANVAULT_RERUN=1 SPANVAULT_TEST_STORE=s3 SPANVAULT_TEST_INDEX=postgres $(GO) test -count=1 -timeout 20m ./sync/client
	SPANVAULT_REQUIRE_TOOLS=1 SPANVAULT_RERUN=1 SPANVAULT_TEST_INDEX=postgres $(GO) test -count=1 -timeout 20m ./archive/access

# The box's pure packages on its own architecture (arm64) under qemu-user
# (qemu-user-static, scripts/install-deps.sh): through binfmt_misc when it
# is registered, else with go test -exec.
ARM64_PKGS = ./record/... ./capture/sip ./capture/sdp ./capture/decode ./capture/rtphdr ./capture/rtpstream \
	./capture/audio ./capture/calls ./vault/sealed ./vault/agefile ./sync/wire
QEMU_ARM64 = $(shell grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || command -v qemu-aarch64-static || command -v qemu-aarch64)
test-arm64:
	GOARCH=arm64 $(GO) test -count=1 $(if $(QEMU_ARM64),-exec $(QEMU_ARM64)) $(ARM64_PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' $(FUZZMIN) -fuzztime $$(( 200000 * $(FUZZSCALE) ))x ./capture/sip
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' $(FUZZMIN) -fuzztime $$(( 200000 * $(FUZZSCALE) ))x ./capture/sdp
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' $(FUZZMIN) -fuzztime $$(( 200000 * $(FUZZSCALE) ))x ./capture/decode
	$(GO) test -run '^$$' -fuzz '^FuzzDifferential$$' $(FUZZMIN) -fuzztime $$(( 500000 * $(FUZZSCALE) ))x ./capture/rtphdr
	$(GO) test -run '^$$' -fuzz '^FuzzPipeline$$' $(FUZZMIN) -fuzztime $$(( 20000 * $(FUZZSCALE) ))x ./capture
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' $(FUZZMIN) -fuzztime $$(( 100000 * $(FUZZSCALE) ))x ./vault/sealed
	$(GO) test -run '^$$' -fuzz '^FuzzHeld$$' $(FUZZMIN) -fuzztime $$(( 50000 * $(FUZZSCALE) ))x ./capture/calls
	$(GO) test -run '^$$' -fuzz '^FuzzMessages$$' $(FUZZMIN) -fuzztime $$(( 200000 * $(FUZZSCALE) ))x ./sync/wire
	$(GO) test -run '^$$' -fuzz '^FuzzUpdate$$' $(FUZZMIN) -fuzztime $$(( 50000 * $(FUZZSCALE) ))x ./sync/wire
	$(GO) test -run '^$$' -fuzz '^FuzzIngest$$' $(FUZZMIN) -fuzztime $$(( 3000 * $(FUZZSCALE) ))x ./archive
	$(GO) test -run '^$$' -fuzz '^FuzzIndexFile$$' $(FUZZMIN) -fuzztime $$(( 3000 * $(FUZZSCALE) ))x ./vault
	$(GO) test -run '^$$' -fuzz '^FuzzAccessAPI$$' $(FUZZMIN) -fuzztime $$(( 3000 * $(FUZZSCALE) ))x ./archive/access

# The archive on a real SeaweedFS cluster (master, three volume servers
# with replication, filer, S3 gateway) under two front-ends sharing a
# PostgreSQL index: 20 boxes sync, a volume server is killed mid-ingest,
# every acknowledged recording is read back, Object Lock is checked
# through the gateway; prints the figures (build/cluster-figures.txt):
# the floor (the cluster's own throughput for the same sizes and lock,
# plain minio-go), the archive's figure and their ratio, CPU per process
# and the front-end's wall time per upload step.
# Not in make test: the first build of SeaweedFS takes about 20 CPU-minutes.
cluster: deps
	bash scripts/install-seaweedfs.sh >/dev/null
	SPANVAULT_CLUSTER=1 SPANVAULT_REQUIRE_TOOLS=1 $(GO) test -count=1 -timeout 60m -run '^TestSeaweedCluster$$' -v ./sync/client | grep -v '^=== RUN'

# The fleet simulation at full size: 500 boxes enroll zero-touch (each
# its own key and certificate), check in every simulated minute for a
# simulated day against two front-ends sharing a PostgreSQL index, and
# receive updates in waves (archive/access BenchmarkFleet; about 30 min on
# the 2-core build machine under load; make bench runs it with 50 boxes
# for an hour and adds this run's line from build/fleet-bench.txt).
fleet: deps
	mkdir -p build
	SPANVAULT_REQUIRE_TOOLS=1 SPANVAULT_FLEET_BOXES=500 SPANVAULT_FLEET_MINUTES=1440 $(GO) test -count=1 -p 1 -timeout 300m -run '^$$' -bench '^BenchmarkFleet$$' -benchtime 1x ./archive/access | tee build/fleet-bench.txt

# Screenshots of every page of the browser journeys, in English and in
# German, into build/screens/ (NAME-en.png, NAME-de.png).
screens:
	rm -rf build/screens
	for l in en de; do SPANVAULT_REQUIRE_TOOLS=1 SPANVAULT_SCREENS=$(CURDIR)/build/screens SPANVAULT_SCREEN_LANG=$$l \
		$(GO) test -count=1 -p 1 -run 'Browser|Journey' ./archive/access || exit 1; done
	@ls build/screens | wc -l | xargs echo "screens written to build/screens:"

# The benchmark table (cmd/benchreport) into docs/benchmarks.md; the
# archive ingest rows: directory, versitygw and the SeaweedFS cluster
# (make cluster's test, run here too), all from this run.
bench: build
	bash scripts/install-seaweedfs.sh >/dev/null
	$(GO) run ./cmd/benchreport -o docs/benchmarks.md

# Archive index queries at 10 million generated recordings, on SQLite and
# on a private PostgreSQL server (p50/p99 per query; about a quarter of an
# hour here, so not part of make bench). INDEX_ROWS sets the size.
INDEX_ROWS ?= 10000000
bench-index:
	SPANVAULT_REQUIRE_TOOLS=1 SPANVAULT_INDEX_ROWS=$(INDEX_ROWS) $(GO) test -run '^$$' -bench IndexQueries -benchtime 1x -timeout 120m ./archive/index

# Page weight and time to first render of the search and recording pages
# in chromium, the index in PostgreSQL holding INDEX_ROWS recordings
# (p50/p99 of the first contentful paint; see BenchmarkPages).
bench-pages:
	SPANVAULT_REQUIRE_TOOLS=1 SPANVAULT_TEST_INDEX=postgres SPANVAULT_INDEX_ROWS=$(INDEX_ROWS) $(GO) test -run '^$$' -bench Pages -benchtime 1x -timeout 120m ./archive/access

cross:
	GOOS=linux GOARCH=arm64 $(GO) build -trimpath -o $(BUILD)/arm64/spanvault ./cmd/spanvault

# The Raspberry Pi 4/5 image (build/spanvault-rpi.img) and the same root
# for the emulator (build/spanvault-vm.img); each also writes the
# .root.squashfs and .boot.fat partition files an A/B update needs, and
# the update directory (build/spanvault-rpi.update/) the archive publishes:
# make image MKIMAGE_FLAGS='-serial 7 -version 2026.12.1 -update-key /srv/archive/update.key'
image: deps
	$(GO) run ./image/mkimage -target rpi -o $(BUILD)/spanvault-rpi.img $(MKIMAGE_FLAGS)

image-vm: deps
	$(GO) run ./image/mkimage -target vm -o $(BUILD)/spanvault-vm.img $(MKIMAGE_FLAGS)

# Boots the emulator image under qemu with a virtual mirror port, replays
# calls into it, cuts the power, reboots and checks the vault (also part
# of make test); and TestVMUpdateAndRollback, too long for make test:
# an update rolled out from a test archive, confirmed, and one rolled back.
image-test: deps
	SPANVAULT_VM_UPDATE=1 $(GO) test -count=1 -v -timeout 60m -run 'TestPiImage|TestVMBoot|TestBootCmdline|TestVMReboot|TestVMUpdateAndRollback' ./image

# Live capture under rising sipp load (long; not part of make test).
# Live capture under rising load, LOAD_RUNS times in a row (each run a new
# daemon and vault): calls answered vs recorded, kernel drops, and every
# call's RTP packets against an independent dumpcap of the same interface.
LOAD_RUNS ?= 3
load: deps build
	for i in $$(seq 1 $(LOAD_RUNS)); do echo "run $$i of $(LOAD_RUNS)"; $(GO) run ./cmd/loadtest || exit 1; done

# The highest INVITE flood rate (distinct Call-IDs) beside which 40
# concurrent sipp calls lose no packet, checked call by call against
# dumpcap (issue 8's figure; make bench prints it too); the same aimed at
# a configured extension, with the index's growth per INVITE; and issue
# 21's live floods at full size (make test runs them shorter).
flood: deps build
	$(GO) run ./cmd/loadtest -bin $(BUILD)/spanvault -levels 40 -hold 8s -flood-rates 5000,10000,20000,40000
	$(GO) run ./cmd/loadtest -bin $(BUILD)/spanvault -levels 40 -hold 8s -flood-rates 5000,10000,20000 -flood-to 2999
	SPANVAULT_FLOOD_FULL=1 SPANVAULT_REQUIRE_TOOLS=1 $(GO) test -count=1 -timeout 20m -run '^(TestExtensionFlood|TestConnectionFlood)$$' -v ./appliance

clean:
	rm -rf $(BUILD)
