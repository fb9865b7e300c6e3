# Builds the kernel side (bpf/ -> build/bpf/*.bpf.o) and the N-API addon (native/ -> native/build).
# scripts/setup.sh calls this; TypeScript is built by tsc afterwards. Pattern rules keep it incremental.
CLANG   ?= clang
BPFTOOL ?= bpftool
ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
OUT     := build
BPF_SRC := $(wildcard bpf/*/*.bpf.c)
BPF_OBJ := $(patsubst bpf/%.bpf.c,$(OUT)/bpf/%.bpf.o,$(BPF_SRC))
BPF_HDR := $(wildcard bpf/include/*.h bpf/lib/*.h bpf/*/*.bpf.h)
NODE_GYP ?= node $(shell dirname $$(dirname $$(readlink -f $$(command -v npm))))/node_modules/node-gyp/bin/node-gyp.js
NODEDIR := $(if $(wildcard /usr/include/node/node_api.h),--nodedir=/usr,)
ADDON   := native/build/Release/ecapture_native.node

.PHONY: all bpf native clean
.DELETE_ON_ERROR:
.SECONDARY:

all: bpf native

bpf: $(BPF_OBJ)

# vmlinux.h comes from the running kernel's BTF; CO-RE relocations make the objects portable.
$(OUT)/vmlinux.h:
	@mkdir -p $(OUT)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(OUT)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDR) $(OUT)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Wno-unused-function \
		-I$(OUT) -Ibpf/include -Ibpf/lib -I/usr/include/$(shell uname -m)-linux-gnu -c $< -o $@

native: $(ADDON)

$(ADDON): native/binding.gyp $(wildcard native/src/*.c native/src/*.h)
	cd native && $(NODE_GYP) rebuild $(NODEDIR) --silent

clean:
	rm -rf $(OUT) native/build dist
