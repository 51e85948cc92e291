# Two commands matter: `make e2e` (the main job) and `make test` (the tests).
# Both install what they need from Debian and run as root without systemd.

GO        ?= go
E2E       := bin/e2e
# RUN names this invocation's artifacts folder; each lab it boots names what
# it creates by a run id of its own (framework/runid), written in its
# verdict. Runs started in the same second differ by the random suffix.
ifeq ($(origin RUN),undefined)
RUN       := $(shell date +%Y%m%d-%H%M%S)-$(shell od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
endif
ARTIFACTS ?= artifacts/$(RUN)
FLAVOR    ?= debian12
TOPOLOGY  ?= fixtures/topology.yaml
# Which scenarios `make e2e` runs (Ginkgo label filter over the closed set in
# scenarios/labels.go; the suite refuses any other label) and extra suite
# flags, e.g. E2E_ARGS=-e2e.keep to leave the lab up. By default: every
# scenario but the disruptive ones, cloudconfig and twotier (their own nodes).
E2E_LABELS ?= vm && !disruptive && !cloudconfig && !twotier
# Each scenario boots its own topology; TOPOLOGY given to make overrides it
# for every scenario the filter selects (make e2e TOPOLOGY=fixtures/topology-web3.yaml).
E2E_TOPOLOGY = $(if $(filter file,$(origin TOPOLOGY)),,-e2e.topology=$(CURDIR)/$(TOPOLOGY))
E2E_ARGS  ?=
# SHARD=i/n runs the i-th of n parts of the scenarios the labels select (CI
# legs, README "CI"); the JUnit file is then junit-shard-i-of-n.xml. Empty: all.
SHARD     ?=
# make bench: PAIRS side-by-side runs of this tree and BENCH_BASELINE (the
# commit the speed work started from), see hack/bench-e2e.
PAIRS ?= 3
BENCH_BASELINE ?= e9dc7bd
# Host tools the tests talk to: haproxy -c (lint), Debian's cloud-init reader,
# dash -n (lint's check of #!/bin/sh scripts),
# blkid and genisoimage (bench); gcc for the race detector (cgo); shellcheck
# for actionlint on the workflows' scripts (ci/); ip for the lab's scratch
# namespaces; qemu-img and mkfs.ext4 for the image build pipeline test;
# chromium to see the HTML report as a browser draws it.
TEST_PKGS := haproxy cloud-init dash util-linux genisoimage gcc shellcheck iproute2 qemu-utils e2fsprogs chromium
# make test installs TEST_PKGS and runs as root, so a test that would skip
# for want of them fails there (framework/testenv, DRIVELAB_REQUIRE_TOOLS);
# the skips left, for what make test does not provide (a running lab, an
# opt-in), are logged to TEST_SKIPS and summed up on make test's last line
# (hack/skip-summary).
TEST_SKIPS = bin/test-skips-$(RUN).log
# Fuzz targets (package:Target): make test runs each FUZZTIME, make fuzz FUZZ_LONG.
# One worker each (-parallel 1): the machine has two cores. Findings land in
# the package's testdata/fuzz/ and run as tests from then on. Minimizing a new
# input takes up to 60 s by default and counts no execs: 5 s is enough here.
FUZZ_TARGETS := topology:FuzzParse render:FuzzRenderNode render:FuzzTemplate lint:FuzzUserDataScan
# make test counts execs rather than seconds: with a wall-clock -fuzztime, Go
# 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" as the time runs out on a busy machine (golang/go#75804, fixed in
# Go 1.27); 1000 execs take about 1-10 s per target here.
FUZZTIME  ?= 1000x
FUZZ_LONG ?= 5m
LAB_PKGS  := qemu-system-x86 qemu-utils libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients iproute2 mmdebstrap e2fsprogs

.PHONY: all build test fuzz e2e bench bench-drives bench-e2e golden image lab-up lab-down down selftest lint drives vet sim-hosts sim-hosts-down clean

all: build

build:
	$(GO) build -o $(E2E).$$$$ ./cmd/e2e && mv -f $(E2E).$$$$ $(E2E)

vet:
	$(GO) vet ./...

## test: unit tests and the drive suite (no VMs).
test: export DRIVELAB_REQUIRE_TOOLS := 1
test: export DRIVELAB_SKIP_LOG = $(CURDIR)/$(TEST_SKIPS)
test: build
	./hack/ensure-packages $(TEST_PKGS)
	$(GO) vet ./...
	@rm -f $(TEST_SKIPS)
	$(GO) test -count=1 -race ./framework/... ./scenarios/... ./cmd/... ./ci/...
	$(GO) test -count=1 ./suites/configdrive/... -ginkgo.label-filter=drive
	$(MAKE) --no-print-directory fuzz FUZZ_LONG=$(FUZZTIME)
	@./hack/skip-summary $(TEST_SKIPS)

## fuzz: the fuzz targets for loading topologies and rendering drives, FUZZ_LONG each (default 5m).
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $$t for $(FUZZ_LONG)"; \
	  $(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZ_LONG) -fuzzminimizetime 5s -parallel 1 ./framework/$${t%%:*}/; \
	done

## e2e: lab up, image (cached), drives, boot, verify, teardown.
e2e: build
	./hack/ensure-packages $(LAB_PKGS)
	$(E2E) lab up
	$(E2E) image build
	$(E2E) image snapshots
	$(GO) test -c -o bin/e2e.test.$$$$ ./suites/e2e && mv -f bin/e2e.test.$$$$ bin/e2e.test
	@# The report page's path last, red or green: the suite writes it either way.
	(cd suites/e2e && ../../bin/e2e.test -test.timeout 80m \
	  -ginkgo.label-filter='$(E2E_LABELS)' -ginkgo.v \
	  -e2e.junit=$(CURDIR)/$(ARTIFACTS)/junit.xml \
	  -e2e.flavor=$(FLAVOR) $(E2E_TOPOLOGY) -e2e.artifacts=$(CURDIR)/$(ARTIFACTS) \
	  $(if $(SHARD),-e2e.shard=$(SHARD)) $(E2E_ARGS)); status=$$?; \
	  if [ -f $(ARTIFACTS)/index.html ]; then echo "report: $(ARTIFACTS)/index.html"; fi; exit $$status

## failover: the failover scenario alone: each web server stopped in turn, from test2 (= make e2e E2E_LABELS=failover).
.PHONY: failover
failover:
	$(MAKE) e2e E2E_LABELS=failover

## cloudconfig: the cloudconfig scenario alone: test2 and app01, whose #cloud-config makes a user, a file and a runcmd (= make e2e E2E_LABELS=cloudconfig; debian12 only).
.PHONY: cloudconfig
cloudconfig:
	$(MAKE) e2e E2E_LABELS=cloudconfig

## twotier: the twotier scenario alone: the load balancer on a front (IPv4, IPv6) and a back network (VLAN 20 on a bond), drives in Nova's layout (= make e2e E2E_LABELS=twotier; debian12 and debian12-nova).
.PHONY: twotier
twotier:
	$(MAKE) e2e E2E_LABELS=twotier

## selftest: every broken variant in fixtures/selftest must fail on its own check (VARIANTS=a,b picks some);
## lint variants boot nothing, each other variant boots the topology once (about 4 min here).
selftest: build
	./hack/ensure-packages $(LAB_PKGS) haproxy
	$(E2E) lab up
	$(E2E) image build
	$(E2E) image snapshots
	$(E2E) selftest --artifacts $(ARTIFACTS) $(if $(VARIANTS),--only $(VARIANTS))

## selftest-twotier: the same for fixtures/selftest-twotier on fixtures/topology-twotier.yaml.
.PHONY: selftest-twotier
selftest-twotier: build
	./hack/ensure-packages $(LAB_PKGS) haproxy
	$(E2E) lab up
	$(E2E) image build
	$(E2E) image snapshots
	$(E2E) selftest --dir fixtures/selftest-twotier --topology fixtures/topology-twotier.yaml --flavor debian12-nova --artifacts $(ARTIFACTS) $(if $(VARIANTS),--only $(VARIANTS))

## drills: fault drills (kernel panic, emergency shell, QEMU killed, libvirtd restarted, user_data exits 1);
## each must be reported with the right cause within 30 s of the fault and leave nothing behind.
.PHONY: drills
drills: build
	./hack/ensure-packages $(LAB_PKGS)
	$(E2E) lab up
	$(E2E) image build
	$(E2E) drill $(if $(DRILLS),--only $(DRILLS))

## drill-runs: run isolation on real boots: a SIGKILLed run's orphans reaped, a kept lab beside
## `make e2e`, two `make e2e` at once (RUN_DRILLS="orphan beside twice"; about 25 min here).
.PHONY: drill-runs
drill-runs: build
	./hack/drill-runs $(RUN_DRILLS)

## golden: refresh the checked-in drive listings after a deliberate template change.
golden:
	$(GO) test -count=1 ./framework/golden/... -update

## image: build (or find cached) the debian12 guest and its bundles; MIRROR=url overrides the host's apt sources.
image: build
	./hack/ensure-packages $(LAB_PKGS)
	$(E2E) image build $(if $(MIRROR),--mirror $(MIRROR))

lab-up: build
	./hack/ensure-packages $(LAB_PKGS)
	$(E2E) lab up

lab-down: build
	$(E2E) lab down

## sim-hosts: simulated remote KVM hosts (SIM_HOSTS, default 2), each a netns + mount ns with its own sshd and
## libvirtd (docs/sim-hosts.md); its last line is E2E_HOSTS=<uri>,<uri>: export "$(make -s sim-hosts | tail -1)".
SIM_HOSTS ?= 2
sim-hosts:
	@./hack/sim-hosts up $(SIM_HOSTS)

## sim-hosts-down: remove the simulated hosts and everything they hold.
sim-hosts-down:
	@./hack/sim-hosts down

## drill-hosts: the remote-host fault drills on sim host 1 (sshd stopped and libvirtd killed mid-boot, the
## image upload cut halfway), each followed by a green run that reaps what it left (hack/drill-hosts).
.PHONY: drill-hosts
drill-hosts: build
	./hack/sim-hosts up >/dev/null
	./hack/drill-hosts

## down: remove everything any run left behind (domains, volumes, state).
down: build
	$(E2E) down

## lint: check every node's rendered drive before boot (PACKAGES=dir also checks the package files).
lint: build
	./hack/ensure-packages haproxy
	$(E2E) lint --topology $(TOPOLOGY) --flavor $(FLAVOR) $(if $(PACKAGES),--packages $(PACKAGES))

## drives: write out/drives/<node>.iso and manifest.json; PACKAGES=dir of package files (debian12: default the image build's bundles).
drives: build
	$(E2E) drives --topology $(TOPOLOGY) --flavor $(FLAVOR) --out out/drives --packages=$(PACKAGES)

## bench: drives (in process vs genisoimage) and time to verdict of a warm `make e2e`, side by side with BENCH_BASELINE.
bench: bench-drives bench-e2e

bench-drives:
	./hack/ensure-packages genisoimage
	$(GO) test -run '^$$' -bench BenchmarkFourDrives -benchtime 20x -count 5 ./framework/configdrive/

bench-e2e:
	./hack/bench-e2e $(PAIRS) $(BENCH_BASELINE)

## bench-twotier: time to verdict of twotier against loadbalancer (make e2e's default), side by side, PAIRS pairs.
.PHONY: bench-twotier
bench-twotier:
	BENCH_NEW_LABELS=twotier ./hack/bench-e2e $(PAIRS) .

## bench-remote: time to verdict of make e2e on sim host 1 (make sim-hosts) against this machine's lab,
## side by side, PAIRS pairs (BENCH_BASE_ENV=E2E_BOOT=cold: against a local cold boot).
.PHONY: bench-remote
bench-remote: build
	./hack/sim-hosts up >/dev/null
	BENCH_NEW_ENV="E2E_HOSTS=$$(./hack/sim-hosts env | sed 's/^E2E_HOSTS=//; s/,.*//')" ./hack/bench-e2e $(PAIRS) .

clean:
	rm -rf bin out
