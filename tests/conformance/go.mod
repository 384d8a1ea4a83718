module controlplane-conformance

go 1.22

require github.com/synadia-io/control-plane-sdk-go v0.5.2

// The SDK is not served by the Go module proxy: build against the copy in ../shared (read-only,
// beside the repository in CI), as ../shared/tools/original-clients does.
replace github.com/synadia-io/control-plane-sdk-go => ../../../shared/reference/clients/control-plane-sdk-go
