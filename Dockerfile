# Multi-stage build: a static binary on a distroless base (no shell, non-root).
# docker build -t slabot . && docker run -p 3000:3000 -e REDIS_URL=… slabot
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/slabot ./cmd/slabot

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/slabot /slabot
ENV PORT=3000
EXPOSE 3000
USER nonroot:nonroot
ENTRYPOINT ["/slabot"]
CMD ["serve"]
