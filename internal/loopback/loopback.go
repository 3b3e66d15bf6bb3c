// Package loopback finds ports for nodes that run on 127.0.0.1: the demo's
// and the in-process tests'.
package loopback

import "net"

// FreePort finds a port free on loopback for both UDP (a node) and TCP (its
// local API, which takes the same number).
func FreePort() (uint16, error) {
	var last error
	for range 20 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		l, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		c.Close()
		if err == nil {
			l.Close()
			return uint16(port), nil
		}
		last = err
	}
	return 0, last
}
