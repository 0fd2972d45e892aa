# The stampede image for distributed runs (`stampede k8s ... --image IMAGE`, docs/distributed.md).
#   docker build -t stampede:dev .
# Stage 1 builds the shipped binary (the `dist` profile: release with whole-program LTO, one
# codegen unit, stripped; Cargo.toml); stage 2 is a slim runtime with only the binary and the CA
# roots (for https:// targets), running as an unprivileged user.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY examples examples
RUN cargo build --profile dist --locked

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/dist/stampede /usr/local/bin/stampede
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["stampede"]
CMD ["--help"]
