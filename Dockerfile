# Multi-stage build: a static binary on a distroless base (no shell, non-root).
# docker build -t slabot . && docker run -p 3000:3000 -e REDIS_URL=… slabot
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# The build's peak is compiling the Genesys SDK (one package of 5,000
# files, 46 MB of Go): 5.5 GB of memory with Go's defaults. Without
# inlining or DWARF for that package alone (its calls wait on HTTP, and the
# binary is stripped anyway), with the compiler's GC at GOGC=25 and one
# compile at a time, the peak is 2.1 GB. See BENCHMARKS.md, "Build cost".
ENV GOGC=25
RUN CGO_ENABLED=0 go build -p 1 -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
    -gcflags="github.com/mypurecloud/...=-l -dwarf=false" -o /out/slabot ./cmd/slabot

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/slabot /slabot
ENV PORT=3000
EXPOSE 3000
USER nonroot:nonroot
ENTRYPOINT ["/slabot"]
CMD ["serve"]
