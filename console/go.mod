// console/ is the web console's frontend, built with npm. This file makes it
// a Go module of its own only so that the server's ./... patterns (go build,
// go vet, go test, archtest) never walk console/node_modules, where some npm
// packages ship Go sources (flatted, pulled in by eslint).
module github.com/outcrop/outcrop/console

go 1.26.8
