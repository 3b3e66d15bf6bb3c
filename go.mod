module github.com/ztgo/ztgo

go 1.26.0

require (
	github.com/gopacket/gopacket v1.7.7
	github.com/urfave/cli/v3 v3.14.0
	golang.org/x/crypto v0.59.0
	golang.org/x/net v0.62.0
)

require golang.org/x/sys v0.50.0 // indirect
