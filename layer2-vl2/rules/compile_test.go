package rules

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func mustCompile(t *testing.T, src string) *Compiled {
	t.Helper()
	c, err := Compile(src)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return c
}

// tableOf turns compiled JSON rules into a binary-ready table, as the
// controller does when it builds a network config.
func tableOf(t *testing.T, js []any) []Rule {
	t.Helper()
	var rs []Rule
	for _, j := range js {
		r, ok := FromJSON(j.(map[string]any))
		if !ok {
			t.Fatalf("compiled rule %s does not parse", marshal(t, j))
		}
		rs = append(rs, r)
	}
	return rs
}

const centralDefault = `
# Allow only IPv4, IPv4 ARP, and IPv6 Ethernet frames.
drop
  not ethertype ipv4
  and not ethertype arp
  and not ethertype ipv6
;
# Drop SSH to anyone
drop ipprotocol tcp and dport 22;
accept;
`

func TestCompileCentralStyle(t *testing.T) {
	c := mustCompile(t, centralDefault)
	want := `[` +
		`{"etherType":2048,"not":true,"or":false,"type":"MATCH_ETHERTYPE"},` +
		`{"etherType":2054,"not":true,"or":false,"type":"MATCH_ETHERTYPE"},` +
		`{"etherType":34525,"not":true,"or":false,"type":"MATCH_ETHERTYPE"},` +
		`{"type":"ACTION_DROP"},` +
		`{"ipProtocol":6,"not":false,"or":false,"type":"MATCH_IP_PROTOCOL"},` +
		`{"end":22,"not":false,"or":false,"start":22,"type":"MATCH_IP_DEST_PORT_RANGE"},` +
		`{"type":"ACTION_DROP"},` +
		`{"type":"ACTION_ACCEPT"}]`
	if got := marshal(t, c.Rules); got != want {
		t.Fatalf("rules:\n got %s\nwant %s", got, want)
	}
	if len(c.Capabilities) != 0 || len(c.Tags) != 0 {
		t.Errorf("caps %v tags %v", c.Capabilities, c.Tags)
	}
	// Compiled rules are already what the controller stores.
	if !reflect.DeepEqual(NormalizeJSON(c.Rules), c.Rules) {
		t.Errorf("compiled rules are not normalized")
	}
	if !reflect.DeepEqual(decodeJSON(t, want), c.Rules) {
		t.Errorf("compiled rules differ from their JSON read back")
	}

	// And they do what they say, through the binary form.
	table, err := ParseTable(AppendTable(nil, tableOf(t, c.Rules)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		p    Packet
		want Action
	}{
		{"ssh", out(etherTypeIPv4, tcp4), Drop},
		{"dns", out(etherTypeIPv4, udp4), Accept},
		{"arp", out(etherTypeARP, arp), Accept},
		{"ipv6 https", out(etherTypeIPv6, tcp6), Accept},
		{"appletalk", out(0x809b, counting), Drop},
	} {
		if got := Evaluate(table, &tt.p, env()).Action; got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

const capsAndTags = `
tag department
  id 1000
  enum 100 sales
  enum 200 engineering
  flag 0 remote
  flag 1 contractor
  flag remote,contractor outsider
  default engineering
;
tag role id 2000;

# Superusers may do anything.
cap superuser
  id 1000
  default
  accept;
;

# SSH for engineering only.
cap ssh
  id 1001
  accept ipprotocol tcp and dport 22 and tsender department engineering;
  accept ipprotocol tcp and sport 22;
;

drop not ethertype ipv4 and not ethertype arp and not ethertype ipv6;
break not chr ipauth;
drop tdiff department 0 or not teq department sales or tand department outsider;
tee 128 89e92ceee5 ipprotocol tcp and chr tcp_syn,tcp_rs_2;
watch -1 89e92ceee6 dport 80-81 and treceiver role 0x10;
redirect 89e92ceee7 ipdest 10.0.0.0/8 and icmp 8;
accept macsrc 02:00:00:00:00:01 or macdest 02-00-00-00-00-02 or ztsrc 89e92ceee8 or ztdest 89e92ceee9;
accept ipsrc fd00::1/64 and ipdest fd00::/8 and iptos 0xfc 32-40 and framesize 64-1500;
accept vlan 0 and vlanpcp 0 and vlandei 0 and random 0.5 and icmp 3 4 and txor 1000 1 and tor role 3;
`

func TestCompileCapsAndTags(t *testing.T) {
	c := mustCompile(t, capsAndTags)
	if got, want := marshal(t, c.Tags),
		`{"department":{"default":200,"id":1000},"role":{"default":null,"id":2000}}`; got != want {
		t.Errorf("tags:\n got %s\nwant %s", got, want)
	}
	if got, want := marshal(t, c.Capabilities["superuser"]),
		`{"default":true,"id":1000,"rules":[{"type":"ACTION_ACCEPT"}]}`; got != want {
		t.Errorf("superuser:\n got %s\nwant %s", got, want)
	}
	if got, want := marshal(t, c.Capabilities["ssh"]), `{"default":false,"id":1001,"rules":[`+
		`{"ipProtocol":6,"not":false,"or":false,"type":"MATCH_IP_PROTOCOL"},`+
		`{"end":22,"not":false,"or":false,"start":22,"type":"MATCH_IP_DEST_PORT_RANGE"},`+
		`{"id":1000,"not":false,"or":false,"type":"MATCH_TAG_SENDER","value":200},`+
		`{"type":"ACTION_ACCEPT"},`+
		`{"ipProtocol":6,"not":false,"or":false,"type":"MATCH_IP_PROTOCOL"},`+
		`{"end":22,"not":false,"or":false,"start":22,"type":"MATCH_IP_SOURCE_PORT_RANGE"},`+
		`{"type":"ACTION_ACCEPT"}]}`; got != want {
		t.Errorf("ssh:\n got %s\nwant %s", got, want)
	}
	want := []string{
		`{"etherType":2048,"not":true,"or":false,"type":"MATCH_ETHERTYPE"}`,
		`{"etherType":2054,"not":true,"or":false,"type":"MATCH_ETHERTYPE"}`,
		`{"etherType":34525,"not":true,"or":false,"type":"MATCH_ETHERTYPE"}`,
		`{"type":"ACTION_DROP"}`,
		`{"mask":"1000000000000000","not":true,"or":false,"type":"MATCH_CHARACTERISTICS"}`,
		`{"type":"ACTION_BREAK"}`,
		`{"id":1000,"not":false,"or":false,"type":"MATCH_TAGS_DIFFERENCE","value":0}`,
		`{"id":1000,"not":true,"or":true,"type":"MATCH_TAGS_EQUAL","value":100}`,
		`{"id":1000,"not":false,"or":true,"type":"MATCH_TAGS_BITWISE_AND","value":3}`,
		`{"type":"ACTION_DROP"}`,
		`{"ipProtocol":6,"not":false,"or":false,"type":"MATCH_IP_PROTOCOL"}`,
		`{"mask":"0000000000000202","not":false,"or":false,"type":"MATCH_CHARACTERISTICS"}`,
		`{"address":"89e92ceee5","flags":0,"length":128,"type":"ACTION_TEE"}`,
		`{"end":81,"not":false,"or":false,"start":80,"type":"MATCH_IP_DEST_PORT_RANGE"}`,
		`{"id":2000,"not":false,"or":false,"type":"MATCH_TAG_RECEIVER","value":16}`,
		`{"address":"89e92ceee6","flags":0,"length":65535,"type":"ACTION_WATCH"}`,
		`{"ip":"10.0.0.0/8","not":false,"or":false,"type":"MATCH_IPV4_DEST"}`,
		`{"icmpCode":null,"icmpType":8,"not":false,"or":false,"type":"MATCH_ICMP"}`,
		`{"address":"89e92ceee7","flags":0,"type":"ACTION_REDIRECT"}`,
		`{"mac":"02:00:00:00:00:01","not":false,"or":false,"type":"MATCH_MAC_SOURCE"}`,
		`{"mac":"02:00:00:00:00:02","not":false,"or":true,"type":"MATCH_MAC_DEST"}`,
		`{"not":false,"or":true,"type":"MATCH_SOURCE_ZEROTIER_ADDRESS","zt":"89e92ceee8"}`,
		`{"not":false,"or":true,"type":"MATCH_DEST_ZEROTIER_ADDRESS","zt":"89e92ceee9"}`,
		`{"type":"ACTION_ACCEPT"}`,
		`{"ip":"fd00::1/64","not":false,"or":false,"type":"MATCH_IPV6_SOURCE"}`,
		`{"ip":"fd00::/8","not":false,"or":false,"type":"MATCH_IPV6_DEST"}`,
		`{"end":40,"mask":252,"not":false,"or":false,"start":32,"type":"MATCH_IP_TOS"}`,
		`{"end":1500,"not":false,"or":false,"start":64,"type":"MATCH_FRAME_SIZE_RANGE"}`,
		`{"type":"ACTION_ACCEPT"}`,
		`{"not":false,"or":false,"type":"MATCH_VLAN_ID","vlanId":0}`,
		`{"not":false,"or":false,"type":"MATCH_VLAN_PCP","vlanPcp":0}`,
		`{"not":false,"or":false,"type":"MATCH_VLAN_DEI","vlanDei":0}`,
		`{"not":false,"or":false,"probability":2147483647,"type":"MATCH_RANDOM"}`,
		`{"icmpCode":4,"icmpType":3,"not":false,"or":false,"type":"MATCH_ICMP"}`,
		`{"id":1000,"not":false,"or":false,"type":"MATCH_TAGS_BITWISE_XOR","value":1}`,
		`{"id":2000,"not":false,"or":false,"type":"MATCH_TAGS_BITWISE_OR","value":3}`,
		`{"type":"ACTION_ACCEPT"}`,
	}
	if len(c.Rules) != len(want) {
		t.Fatalf("%d rules, want %d: %s", len(c.Rules), len(want), marshal(t, c.Rules))
	}
	for i, r := range c.Rules {
		if got := marshal(t, r); got != want[i] {
			t.Errorf("rule %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
	// Every compiled rule, capabilities included, survives the controller.
	for name, cp := range c.Capabilities {
		rs := cp["rules"].([]any)
		if !reflect.DeepEqual(NormalizeJSON(rs), rs) {
			t.Errorf("capability %s: rules are not normalized", name)
		}
	}
	if !reflect.DeepEqual(NormalizeJSON(c.Rules), c.Rules) {
		t.Errorf("rules are not normalized")
	}
}

func TestCompileMacros(t *testing.T) {
	c := mustCompile(t, `
macro allow_tcp($port)
  accept ipprotocol tcp and dport $port;
;
macro web
  include allow_tcp(80)
  include allow_tcp(443);
macro pass($p) include allow_tcp($p);
include web
include pass(8080)
drop;
`)
	var got []string
	for _, r := range tableOf(t, c.Rules) {
		switch r.Type {
		case MatchIPDestPortRange:
			got = append(got, fmt.Sprint(r.Start))
		case MatchIPProtocol:
		default:
			got = append(got, r.Type.String())
		}
	}
	if want := "80 ACTION_ACCEPT 443 ACTION_ACCEPT 8080 ACTION_ACCEPT ACTION_DROP"; strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

// Where ZeroTier's compiler lets "accept;" end a capability, so do we.
func TestCompileCapabilityEnds(t *testing.T) {
	tests := []struct {
		src        string
		cap, base  int
		defaultCap bool
	}{
		{"cap a id 1 accept; ;\ndrop;", 1, 1, false},
		{"cap a id 1 accept;\ndrop;", 1, 1, false},
		{"cap a id 1 default accept;\ndrop;\naccept;", 1, 2, true},
		{"cap a\n id 1\n drop ipprotocol udp;\n accept;\ndrop;", 3, 1, false},
		{"cap a id 1 accept ipprotocol tcp;\ndrop;", 3, 0, false}, // like the reference: drop; closes the capability
		{"cap a id 1 accept ipprotocol tcp; ;\ndrop;", 2, 1, false},
		{"cap a id 1 accept ;\ndrop ;\n;\naccept;", 2, 1, false},
		{"cap a id 1;", 0, 0, false},
		{"cap a id 1 accept", 1, 0, false}, // the end of the source closes everything
	}
	for _, tt := range tests {
		c, err := Compile(tt.src)
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		a := c.Capabilities["a"]
		if n := len(a["rules"].([]any)); n != tt.cap || len(c.Rules) != tt.base || a["default"] != tt.defaultCap {
			t.Errorf("%q: capability %d rules (default %v), base %d; want %d, %d", tt.src, n, a["default"], len(c.Rules), tt.cap, tt.base)
		}
	}
}

func TestCompileValues(t *testing.T) {
	tests := []struct{ src, want string }{
		{"drop icmp 8;", `"icmpCode":null,"icmpType":8`},
		{"drop icmp 8 -1;", `"icmpCode":null,"icmpType":8`},
		{"drop icmp 3 0x0d;", `"icmpCode":13,"icmpType":3`},
		{"drop icmp 8 and ethertype ipv4;", `"icmpCode":null,"icmpType":8`},
		{"drop ipprotocol icmp;", `"ipProtocol":1`},
		{"drop ipprotocol ICMP6;", `"ipProtocol":58`},
		{"drop ipprotocol 0x84;", `"ipProtocol":132`},
		{"drop ethertype 0x88b5;", `"etherType":34997`},
		{"drop ETHERTYPE Wol;", `"etherType":2114`},
		{"drop chr inbound,multicast,broadcast,ipauth,macauth;", `"mask":"f800000000000000"`},
		{"drop chr tcp_fin,tcp_syn,tcp_rst,tcp_psh,tcp_ack,tcp_urg,tcp_ece,tcp_cwr,tcp_ns,tcp_rs_2,tcp_rs1,tcp_rs_0;", `"mask":"0000000000000fff"`},
		{"drop chr 40;", `"mask":"0000010000000000"`},
		{"drop random 0;", `"probability":0`},
		{"drop random 1;", `"probability":4294967295`},
		{"drop random 7;", `"probability":4294967295`},
		{"drop random -1;", `"probability":0`},
		{"drop sport 1-1024;", `"end":1024,"not":false,"or":false,"start":1`},
		{"drop ipsrc 10.1.2.3/24;", `"ip":"10.1.2.3/24"`},
		{"drop ipsrc ::ffff:10.1.2.3/120;", `"ip":"::ffff:10.1.2.3/120","not":false,"or":false,"type":"MATCH_IPV6_SOURCE"`},
		{"drop macsrc 0A1B.2C3D.4E5F;", `"mac":"0a:1b:2c:3d:4e:5f"`},
		{"drop teq 5 6;", `"id":5,"not":false,"or":false,"type":"MATCH_TAGS_EQUAL","value":6`},
		{"drop treq 5 6;", `"type":"MATCH_TAG_RECEIVER"`},
		{"drop tseq 5 6;", `"type":"MATCH_TAG_SENDER"`},
		{"drop not or not ztsrc 0123456789;", `"not":true,"or":true`},
		{"DROP NOT EtherType IPv4 ;", `"etherType":2048,"not":true`},
		{"drop ethertype arp;# comment\n#ethertype ipv4;\naccept;", `"etherType":2054`},
	}
	for _, tt := range tests {
		c, err := Compile(tt.src)
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		if got := marshal(t, c.Rules); !strings.Contains(got, tt.want) {
			t.Errorf("%q:\n got %s\nwant it to contain %s", tt.src, got, tt.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src       string
		line, col int
		msg       string
	}{
		{"drop\n  ethertype foo;", 2, 13, `invalid ethertype "foo"`},
		{"accept;\nfrobnicate;", 2, 1, `unknown action "frobnicate"`},
		{"drop ethertype ipv4\n  ipprotocol tcp\n  and frob 3;", 3, 7, `unknown match "frob"`},
		{"drop not;", 1, 6, `"not" must be followed by a match`},
		{"drop ethertype ipv4 or", 1, 21, `"or" must be followed by a match`},
		{"drop ipprotocol tcp accept;", 1, 21, `expected ';' before "accept"`},
		{"drop dport;", 1, 11, `dport needs a port or range lo-hi, found ';'`},
		{"drop dport and ipprotocol tcp;", 1, 12, `found keyword "and"`},
		{"drop dport", 1, 6, `found the end of the source`},
		{"drop dport 100-10;", 1, 12, `invalid port "100-10"`},
		{"drop dport 65536;", 1, 12, `invalid port "65536"`},
		{"drop dport 1-2-3;", 1, 12, `invalid port`},
		{"ethertype ipv4;", 1, 1, `match "ethertype" must follow an action`},
		{"cap x accept;", 1, 5, `capability x has no id`},
		{"cap x id 1 id 2 accept;", 1, 12, `two ids`},
		{"cap x id one accept;", 1, 10, `invalid capability id "one"`},
		{"cap accept id 1 accept;", 1, 5, `capability name "accept" is a reserved word`},
		{"cap 9lives id 1 accept;", 1, 5, `invalid capability name "9lives"`},
		{"cap a id 1 accept;\ncap b id 1 accept;", 2, 10, `capability id 1 is used by both "a" and "b"`},
		{"cap a id 1 accept;\ncap A id 2 accept;", 2, 5, `capability "a" is defined twice`},
		{"cap a id 1 drop ipprotocol tcp;\ntag t id 1;", 2, 1, `missing ';' to end capability a before "tag"`},
		{"tag t enum 1 a;", 1, 5, `tag "t" has no id`},
		{"tag t id 1 enum 1 a enum 2 a;", 1, 28, `enum "a" is defined twice`},
		{"tag t id 1 flag 32 a;", 1, 17, `invalid flag bit "32"`},
		{"tag t id 1 default nope;", 1, 20, `invalid value "nope" for tag "t"`},
		{"tag t id 1 default 1 default 2;", 1, 22, `two defaults`},
		{"tag t id 1 color red;", 1, 12, `unexpected "color" in tag "t"`},
		{"tag t id 1;\ntag T id 2;", 2, 5, `tag "t" is defined twice`},
		{"drop teq nosuchtag 1;", 1, 10, `unknown tag "nosuchtag"`},
		{"tag t id 1 enum 1 a;\ndrop teq t b;", 2, 12, `invalid value "b" for tag "t"`},
		{"drop ipsrc 10.0.0.0;", 1, 12, `needs a /bits netmask`},
		{"drop ipsrc 10.0.0.0/33;", 1, 12, `invalid netmask length "33"`},
		{"drop ipdest 10.0.0.256/8;", 1, 13, `invalid IP address "10.0.0.256"`},
		{"drop ipdest fe80::1%eth0/64;", 1, 13, `invalid IP address`},
		{"drop macsrc 02:00:00:00:00;", 1, 13, `invalid MAC address`},
		{"drop ztsrc 12345;", 1, 12, `invalid ZeroTier address "12345"`},
		{"tee 0 xyz;", 1, 7, `invalid ZeroTier address "xyz"`},
		{"tee 70000 89e92ceee5;", 1, 5, `invalid tee length "70000"`},
		{"tee 89e92ceee5;", 1, 15, `tee needs a maximum length (0 for all) and a target ZeroTier address`},
		{"redirect;", 1, 9, `redirect needs a target ZeroTier address`},
		{"priority 3;", 1, 1, `priority action is not supported`},
		{"drop icmp 300;", 1, 11, `invalid ICMP type "300"`},
		{"drop icmp 3 256;", 1, 13, `invalid ICMP code`},
		{"drop iptos 0x1ff 1;", 1, 12, `invalid TOS mask`},
		{"drop iptos 0xfc 9-8;", 1, 17, `invalid TOS value "9-8"`},
		{"drop chr tcp_foo;", 1, 10, `unknown characteristic "tcp_foo"`},
		{"drop chr ,;", 1, 10, `no characteristics`},
		{"drop random 2x;", 1, 13, `invalid probability "2x"`},
		{"drop vlan 65536;", 1, 11, `invalid VLAN ID`},
		{"drop ztsrc $x;", 1, 12, `undefined variable "$x"`},
		{"include nope;", 1, 9, `unknown macro "nope"`},
		{"macro m($a) accept dport $a; ;\ninclude m;", 2, 9, `macro "m" needs 1 parameters, got 0`},
		{"macro m(x) accept;", 1, 7, `macro parameter "x" must be $ followed by a name`},
		{"macro a include a; ;\ninclude a;", 1, 17, `macro expansion too deep`},
		{"macro m($a) include n($b);\nmacro n($c) drop;\ninclude m(1);", 1, 21, `undefined variable "$b"`},
		{"macro m accept; macro m drop;", 1, 23, `macro "m" is defined twice`},
		{"include", 1, 1, `include needs a macro name`},
		{strings.Repeat("drop ethertype 1;\n", 513), 513, 1, `the base rule set has more than 1024 rules`},
		{"cap big id 1 " + strings.Repeat("drop ethertype 1;", 40) + ";", 1, 558, `capability big has more than 64 rules`},
	}
	for _, tt := range tests {
		_, err := Compile(tt.src)
		var ce *CompileError
		if !errors.As(err, &ce) {
			t.Errorf("%.40q: err = %v, want a *CompileError", tt.src, err)
			continue
		}
		if ce.Line != tt.line || ce.Col != tt.col || !strings.Contains(ce.Msg, tt.msg) {
			t.Errorf("%.40q:\n got %v\nwant %d:%d: ...%s...", tt.src, err, tt.line, tt.col, tt.msg)
		}
		if !strings.HasPrefix(err.Error(), fmt.Sprintf("%d:%d: ", tt.line, tt.col)) {
			t.Errorf("%.40q: message %q does not start with line:column", tt.src, err)
		}
	}
}

func TestCompileEmpty(t *testing.T) {
	for _, src := range []string{"", "   \n", "# nothing\n;\n;"} {
		c := mustCompile(t, src)
		if got := marshal(t, c); got != `{"Rules":[],"Capabilities":{},"Tags":{}}` {
			t.Errorf("%q: %s", src, got)
		}
	}
}
