{
  "targets": [
    {
      "target_name": "ecapture_native",
      "sources": [
        "src/addon.c",
        "src/args.c",
        "src/errors.c",
        "src/log.c",
        "src/object.c",
        "src/globals.c",
        "src/attach.c",
        "src/tc.c",
        "src/maps.c",
        "src/ringbuf.c",
        "src/buffers.c",
        "src/pcap.c",
        "src/misc.c",
        "src/umulti.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-lbpf", "-lelf", "-lz", "-lpcap"]
    }
  ]
}
