// Package perf is `make perf`: a throughput, latency and memory benchmark
// of ztgo in network namespaces. Two members with real TAP devices and a
// private root (which is also the network controller) sit on one veth
// bridge; iperf3 and ping measure the overlay between the members, the
// bare underlay between the same namespaces as the ceiling, and, when
// ZTGO_REFERENCE_BIN names a zerotier-one binary, two ZeroTierOne members
// on the same root as the reference. The result is a markdown table on
// standard output (see spec/performance.md).
//
// TestPerf runs only with ZTGO_PERF=1 (the Makefile sets it) and as root,
// so `go test ./...` compiles it and skips it. The helpers in this file's
// package (parsing iperf3's JSON, ping's summary and /proc) are plain
// functions with their own fast tests.
package perf
