# syntax=docker/dockerfile:1
# The wasmcc host as a container image, for deploy/kubernetes/ (docs/operators.md, "Scale-out on Kubernetes"):
#
#   docker build -t wasmcc .
#   docker run -p 9100:9100 -p 9090:9090 -v "$PWD/wasmcc.toml:/etc/wasmcc/wasmcc.toml:ro" wasmcc
#   (a wasmcc.toml like deploy/kubernetes/configmap.yaml's: beyond loopback the admin API needs tls_cert/tls_key)
#
# No --init needed: `wasmcc serve` handles SIGTERM (`docker stop`) as PID 1, draining its peer streams for at most
# [connections] drain_timeout_ms (25 s by default) and exiting 0; give `docker stop -t 35` to let a drain finish
# (docker's own default sends SIGKILL after 10 s).
#
# Why glibc, dynamically linked, on distroless/cc rather than a static binary: the project's static build
# (scripts/build-builder.sh) is glibc with +crt-static, made for the builder, which must run in the peer's Alpine
# image. The host has no such constraint, and it resolves names through getaddrinfo (launcher mode dials the peer's
# chaincode listener by name; the admin CLI), which a static glibc cannot do without NSS. A musl build is not part
# of the project's toolchain (only x86_64-unknown-linux-gnu is installed on its machines), and wasmtime, mimalloc and
# ring are built and tested here on glibc only. distroless/cc-debian12 is glibc 2.36 and libgcc_s, what a bookworm
# build links against, plus CA certificates, and nothing else: no shell, no package manager. The build stage is the
# native architecture, so the same file builds amd64 and arm64 images.
#
# Profile-guided: the training that a profile-guided build needs runs the bench, whose chaincode is wasm, and this
# build stage has no wasm toolchain; so the profile comes from a build of the same sources beside it, as a named
# build context, and this stage uses it when it is there:
#
#   bash scripts/build-release.sh --no-default-features
#   docker build --build-context pgo=target/pgo -t wasmcc .
#
# Without --build-context the empty stage `pgo` stands in and the build is the plain release build. The profile must
# come from the same sources and the same Rust (1.95): functions it does not match are built as without it.

FROM scratch AS pgo

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# --no-default-features: the host without `wasmcc dev`/`demo` (the in-process Fabric network), as in production.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    --mount=type=bind,from=pgo,target=/pgo \
    if [ -f /pgo/wasmcc.profdata ]; then export RUSTFLAGS="-Cprofile-use=/pgo/wasmcc.profdata"; fi \
    && CARGO_PROFILE_RELEASE_STRIP=symbols \
    cargo build --release --locked -p wasmcc-host --no-default-features --bin wasmcc \
    && install -D -m 0755 target/release/wasmcc /out/wasmcc \
    && install -d -m 0750 -o 65532 -g 65532 /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/wasmcc /usr/local/bin/wasmcc
# The data directory of deploy/kubernetes/configmap.yaml, writable by the user below (Kubernetes mounts an emptyDir
# over it; `docker run` without a volume keeps it in the container's layer).
COPY --from=build --chown=65532:65532 /out/data /var/lib/wasmcc
# distroless's nonroot user, numerically (Kubernetes' runAsNonRoot can check a number, not a name).
USER 65532:65532
WORKDIR /var/lib/wasmcc
# The admin API ([admin] listen) and /healthz, /readyz, /metrics ([metrics] listen); the chaincode ports are
# [chaincodes] port_min..port_max of the configuration.
EXPOSE 9100 9090
ENTRYPOINT ["wasmcc"]
CMD ["serve", "--config", "/etc/wasmcc/wasmcc.toml"]
