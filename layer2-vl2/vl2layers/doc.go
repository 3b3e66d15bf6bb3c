// Package vl2layers decodes and builds the payloads of VL2's verbs, and the
// OK bodies that answer them, as gopacket layers. Each layer is a thin
// wrapper around the vl2wire codec of its verb: decoding is the codec's
// Parse function, serializing its AppendPayload, so the layers add no
// parsing of their own.
//
// The layers start after the verb byte (and, for an OK, after its in-re
// verb and packet ID) of a dearmored, decompressed packet: ztlayers.Verb's
// MessagePayload. Which layer a payload decodes as depends on the verb,
// which the payload does not carry: use LayerTypeOf or OKLayerTypeOf, or
// DecodeVerb. Loading the package registers the layer types, numbered from
// 4997 after ztlayers' 4993–4996:
//
//   - LayerTypeFrame (FRAME), LayerTypeExtFrame (EXT_FRAME) and
//     LayerTypeMulticastFrame (MULTICAST_FRAME): the header is the layer's
//     contents and the Ethernet data its payload, decoded on by the
//     ethertype (FRAME, MULTICAST_FRAME) or as Ethernet (EXT_FRAME);
//   - LayerTypeMulticastLike, LayerTypeMulticastGather,
//     LayerTypeNetworkCredentials, LayerTypeNetworkConfigRequest and
//     LayerTypeNetworkConfig (one chunk of a network config dictionary):
//     the whole payload is the layer's contents;
//   - LayerTypeOKExtFrame, LayerTypeOKNetworkConfigRequest (a config
//     chunk), LayerTypeOKNetworkConfig, LayerTypeOKMulticastGather and
//     LayerTypeOKMulticastFrame: OK bodies, likewise.
//
// Every layer serializes back to the bytes it was decoded from (vl2wire's
// codecs re-encode exactly). The package sits beside VL2 for tools such as
// ztdump; the node's data path uses vl2wire directly.
package vl2layers
