package group

import (
	"math"
	"unicode/utf16"
)

// Topic is the internal compacted topic that holds group metadata and
// committed offsets.
const Topic = "__consumer_offsets"

// PartitionFor is the partition of __consumer_offsets (with n partitions)
// that holds group's state; its leader is the group's coordinator. It is
// Kafka's placement, abs(String.hashCode(group)) % n with Kafka's Utils.abs
// (which maps MinInt32 to 0), so a group lives in the same partition as it
// would in Kafka and the topic's data stays readable by Kafka tools.
func PartitionFor(group string, n int32) int32 {
	if n <= 0 {
		return 0
	}
	h := javaStringHash(group)
	if h == math.MinInt32 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % n
}

// javaStringHash is Java's String.hashCode: s[0]*31^(n-1) + ... + s[n-1]
// over UTF-16 code units, with int32 overflow. Bytes that are not valid
// UTF-8 count as U+FFFD, as Java's UTF-8 decoder makes them.
func javaStringHash(s string) int32 {
	var h int32
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		for i := 0; i < len(s); i++ {
			h = 31*h + int32(s[i])
		}
		return h
	}
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}
