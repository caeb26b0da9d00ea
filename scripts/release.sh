#!/usr/bin/env bash
# release.sh [gate|full]: Outcrop's offline, reproducible release (docs/RELEASE.md).
#
#   gate  the release binary, its SBOM and the vulnerability gate (CI runs
#         this on every change: make vulncheck)
#   full  gate, then the OCI images (base and -with-model), their smoke
#         tests and SHA-256 sums (make release)
#
# Everything comes from the Go module proxy and this machine: the Go
# toolchain (GOTOOLCHAIN from the Makefile), cyclonedx-gomod, govulncheck and
# the vulnerability database (built from the golang.org/x/vulndb module).
# Same commit, same toolchain, same machine packages -> same digests:
# SOURCE_DATE_EPOCH is the commit time, paths are trimmed, and the C/C++
# build maps the module cache to a fixed prefix.
#
# Knobs: DIST [dist], VULNDB_VERSION, OUTCROP_CACHE [~/.cache/outcrop],
# OUTCROP_HOME [~/.outcrop] (the model baked into -with-model),
# COSIGN_KEY (a cosign private key file: sign SHA256SUMS and the images;
# its password in COSIGN_PASSWORD; "ephemeral": a throwaway key pair made
# for this run, which proves the signing path in CI and vouches for nothing).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
dist=${DIST:-dist}
cache=${OUTCROP_CACHE:-$HOME/.cache/outcrop}
home=${OUTCROP_HOME:-$HOME/.outcrop}
vulndb_version=${VULNDB_VERSION:-$(sed -n 's/^const defaultVulnDB = "\(.*\)"$/\1/p' tools/release/vulndb.go)}
cyclonedx=github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0
govulncheck=golang.org/x/vuln/cmd/govulncheck@v1.9.0
cosign_pkg=$(sed -n 's/^const cosignPackage = "\(.*\)"$/\1/p' tools/release/sign.go)

log() { printf '[release %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
t0=$SECONDS
step() { log "$* (+$((SECONDS - t0)) s)"; }

: "${GOTOOLCHAIN:?run through make (make release / make vulncheck), which sets GOTOOLCHAIN}"
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 1)}
modcache=$(go env GOMODCACHE)
# The C/C++ objects of the vendored llama.cpp embed source paths (asserts);
# map the module cache to a fixed prefix so the binary does not depend on
# where it is. (The tree is not mapped: -trimpath covers it, and a flag
# naming the checkout would give every checkout its own build-cache key for
# the whole llama.cpp compile.)
prefix_map="-ffile-prefix-map=$modcache=/go/pkg/mod"
export CGO_CFLAGS="${CGO_CFLAGS:-} $prefix_map"
export CGO_CXXFLAGS="${CGO_CXXFLAGS:-} $prefix_map"

mkdir -p "$dist"
go build -o "$dist/.release-tool" ./tools/release
rel="$dist/.release-tool"

step "building $dist/outcrop $version with $(go version | cut -d' ' -f3) (-trimpath)"
go build -trimpath -buildvcs=false \
  -ldflags "-w -buildid= -X github.com/outcrop/outcrop/internal/cli.Version=$version" \
  -o "$dist/outcrop" ./cmd/outcrop

step "SBOM (CycloneDX) -> $dist/outcrop.cdx.json"
go run "$cyclonedx" app -json -licenses -noserial -notimestamp -std -main cmd/outcrop \
  -output "$dist/.gomod.cdx.json" . >/dev/null
"$rel" sbom -gomod "$dist/.gomod.cdx.json" -binary "$dist/outcrop" -out "$dist/outcrop.cdx.json"
rm -f "$dist/.gomod.cdx.json"

db=$cache/vulndb/$vulndb_version
if [ ! -f "$db/index/db.json" ]; then
  step "vulnerability database from golang.org/x/vulndb@$vulndb_version -> $db"
  "$rel" vulndb -version "$vulndb_version" -out "$db"
fi

step "vulnerability gate (govulncheck -mode binary, release/vuln-allowlist.yaml)"
"$rel" gate -db "$db" -allow release/vuln-allowlist.yaml -binary "$dist/outcrop" \
  -out "$dist/vulncheck" -govulncheck "go run $govulncheck"

if [ "$mode" = gate ]; then
  step "gate done"
  exit 0
fi

step "OCI image outcrop:$version (model pulled into the volume)"
"$rel" image -binary "$dist/outcrop" -version "$version" -epoch "$SOURCE_DATE_EPOCH" \
  -out "$dist/oci/outcrop" -tar "$dist/outcrop-$version.oci.tar"
images=("$dist/outcrop-$version.oci.tar")

model_dir=$home/models
if [ -d "$model_dir" ] && ls "$model_dir" | grep -q .; then
  step "OCI image outcrop:$version-with-model (bakes $model_dir)"
  "$rel" image -binary "$dist/outcrop" -version "$version" -epoch "$SOURCE_DATE_EPOCH" \
    -model-dir "$model_dir" -out "$dist/oci/outcrop-with-model" -tar "$dist/outcrop-$version-with-model.oci.tar"
  images+=("$dist/outcrop-$version-with-model.oci.tar")
else
  log "no model in $model_dir (make model installs it): building only the base image, and its smoke test cannot run"
  exit 1
fi

step "smoke test of the base image (model given as its volume)"
"$rel" smoke -image "$dist/outcrop-$version.oci.tar" -version "$version" -model-dir "$model_dir"
step "smoke test of the -with-model image"
"$rel" smoke -image "$dist/outcrop-$version-with-model.oci.tar" -version "$version"

step "SHA-256 sums -> $dist/SHA256SUMS"
"$rel" sums -out "$dist/SHA256SUMS" "$dist/outcrop" "$dist/outcrop.cdx.json" "$dist/vulncheck.txt" "${images[@]}"
cat "$dist/SHA256SUMS"

if [ -n "${COSIGN_KEY:-}" ]; then
  cosign_bin=$cache/bin/cosign-${cosign_pkg##*@}
  if [ ! -x "$cosign_bin" ]; then
    step "building $cosign_pkg -> $cosign_bin"
    tmpbin=$(mktemp -d)
    GOBIN=$tmpbin go install "$cosign_pkg"
    mkdir -p "$(dirname "$cosign_bin")" && mv "$tmpbin/cosign" "$cosign_bin" && rmdir "$tmpbin"
  fi
  if [ "$COSIGN_KEY" = ephemeral ]; then
    keydir=$(mktemp -d)
    export COSIGN_PASSWORD=$(head -c 24 /dev/urandom | base64)
    (cd "$keydir" && "$cosign_bin" generate-key-pair >/dev/null)
    COSIGN_KEY=$keydir/cosign.key
    log "ephemeral signing key $COSIGN_KEY (throwaway: proves the signing path only)"
  fi
  step "signing SHA256SUMS and the images with $COSIGN_KEY (cosign, no transparency log)"
  "$rel" sign -cosign "$cosign_bin" -key "$COSIGN_KEY" -sums "$dist/SHA256SUMS" -pub "$dist/cosign.pub" \
    -image "$dist/oci/outcrop=$dist/signed/outcrop-$version" \
    -image "$dist/oci/outcrop-with-model=$dist/signed/outcrop-$version-with-model"
else
  log "COSIGN_KEY not set: the release is not signed (docs/RELEASE.md, Signing)"
fi
rm -f "$dist/.release-tool"
step "release done"
