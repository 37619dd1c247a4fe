# Passed to the CMake build of flatbuffers 23.5.26 that the `flatc` crate runs for vbus-codegen
# (see .cargo/config.toml). vbus needs only the flatc executable: flatbuffers' own tests, samples
# and runtime library were half of a clean build's critical path (316 s -> ~150 s here).
set(FLATBUFFERS_BUILD_TESTS OFF CACHE BOOL "")
set(FLATBUFFERS_BUILD_FLATLIB OFF CACHE BOOL "")
