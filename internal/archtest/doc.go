// Package archtest holds tests of the project's structure: package comments
// and the direction of dependencies between packages.
package archtest
